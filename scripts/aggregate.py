"""Step: gather every eval.json into the tidy results/summary.csv, its mean and 95% interval over seeds, and
the verdict per condition and headline metric (results/verdict.csv)."""

import json

from selftrain.report import CI_COLUMNS, interval_rows, load_eval, summary_rows, write_csv, write_summary
from selftrain.step import step
from selftrain.verdict import VERDICT_COLUMNS, interval_spreads, task_items, verdict_rows

p = snakemake.params
with step(snakemake, uses_torch=False) as log:
    base = {m: load_eval(f) for m, f in zip(p.models, snakemake.input.base)}
    rounds = [load_eval(f) for f in snakemake.input.rounds]
    rows = summary_rows(base, rounds, [tuple(b) for b in p.branches], p.seeds)
    write_summary(snakemake.output.summary, rows)
    write_csv(snakemake.output.intervals, CI_COLUMNS, interval_rows(rows))
    # the kernel spread (config key verdict.kernel_spread) that makes a verdict another machine could flip unstable
    spread = json.loads(open(snakemake.input.spread).read()) if "spread" in snakemake.input.keys() else None
    verdicts = verdict_rows(rows, task_items(base), interval_spreads(spread))
    write_csv(snakemake.output.verdict, VERDICT_COLUMNS, verdicts)
    log(f"{len(rows)} rows; verdicts:", *(f"\n  {v['condition']} {v['set']} {v['metric']}: {v['verdict']}" for v in verdicts))
