"""Step: gather every eval.json into the tidy results/summary.csv, its mean and 95% interval over seeds, the verdict
per condition and headline metric (results/verdict.csv) and the contrasts between conditions (results/contrasts.csv)."""

from selftrain.report import CI_COLUMNS, interval_rows, load_eval, summary_rows, write_csv, write_summary
from selftrain.step import step
from selftrain.verdict import CONTRAST_COLUMNS, VERDICT_COLUMNS, answer

p = snakemake.params
with step(snakemake, uses_torch=False) as log:
    base = {m: load_eval(f) for m, f in zip(p.models, snakemake.input.base)}
    rounds = [load_eval(f) for f in snakemake.input.rounds]
    rows = summary_rows(base, rounds, [tuple(b) for b in p.branches], p.seeds)
    write_summary(snakemake.output.summary, rows)
    write_csv(snakemake.output.intervals, CI_COLUMNS, interval_rows(rows))
    verdicts, contrasts = answer(rows, base, p.generators, p.max_flip_probability)
    write_csv(snakemake.output.verdict, VERDICT_COLUMNS, verdicts)
    write_csv(snakemake.output.contrasts, CONTRAST_COLUMNS, contrasts)
    log(f"{len(rows)} rows; verdicts:",
        *(f"\n  {v['condition']} {v['set']} {v['metric']}: {v['verdict']}" for v in verdicts),
        *(f"\n  {c['condition']} - {c['versus']} {c['set']} {c['metric']}: {c['verdict']}" for c in contrasts))
