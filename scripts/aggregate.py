"""Step: gather every eval.json into the tidy results/summary.csv and its mean and 95% interval over seeds."""

from selftrain.report import CI_COLUMNS, interval_rows, load_eval, summary_rows, write_csv, write_summary
from selftrain.step import step

p = snakemake.params
with step(snakemake, uses_torch=False) as log:
    base = {m: load_eval(f) for m, f in zip(p.models, snakemake.input.base)}
    rounds = [load_eval(f) for f in snakemake.input.rounds]
    rows = summary_rows(base, rounds, p.conditions, p.seeds)
    write_summary(snakemake.output.summary, rows)
    write_csv(snakemake.output.intervals, CI_COLUMNS, interval_rows(rows))
    log(f"{len(rows)} rows")
