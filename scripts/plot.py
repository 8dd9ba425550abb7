"""Step: draw results/figures/collapse.pdf (and .png) from summary.csv."""

from selftrain.report import plot_collapse, read_summary
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    plot_collapse(read_summary(snakemake.input[0]), snakemake.output.pdf, snakemake.output.png)
