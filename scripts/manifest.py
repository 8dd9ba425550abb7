"""Step: results/manifest.json, every job upstream of the figure with its provenance record."""

from selftrain.io import atomic_write_json
from selftrain.provenance import build_manifest, manifest_files
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    manifest = build_manifest(list(snakemake.input))
    atomic_write_json(snakemake.output[0], manifest)
    log(f"{len(manifest['jobs'])} jobs, {len(manifest_files(manifest))} files")
