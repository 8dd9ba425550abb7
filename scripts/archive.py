"""Step: results/archive/<name>.tar.gz with code, config, environments, manifest and results of the run."""

from selftrain.archive import archive_entries, write_archive
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    entries, left_out = archive_entries(snakemake.input[0], snakemake.params.config, snakemake.params.archive)
    size = write_archive(snakemake.output[0], snakemake.wildcards["name"], entries)
    log(f"{len(entries)} files, {size:,} bytes; left out by config.archive: {len(left_out)} files")
