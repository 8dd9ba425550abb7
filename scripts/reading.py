"""Step: results/reading.md, the run's reading computed from results/verdict.csv."""

from selftrain.io import atomic_write_text
from selftrain.reading import reading
from selftrain.step import step
from selftrain.verdict import read_verdict

with step(snakemake, uses_torch=False) as log:
    atomic_write_text(snakemake.output[0], reading(read_verdict(snakemake.input.verdict)))
    log(f"{snakemake.output[0]} written")
