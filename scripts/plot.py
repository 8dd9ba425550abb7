"""Step: draw results/figures/collapse.pdf (and .png) from summary.csv, with the verdicts of verdict.csv and each
condition's contrast with the real-data control (contrasts.csv)."""

from selftrain.report import plot_collapse, read_summary
from selftrain.step import step
from selftrain.verdict import read_verdict

with step(snakemake, uses_torch=False) as log:
    plot_collapse(read_summary(snakemake.input.summary), snakemake.output.pdf, snakemake.output.png,
                  read_verdict(snakemake.input.verdict), read_verdict(snakemake.input.contrasts))
