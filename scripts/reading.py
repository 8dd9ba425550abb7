"""Step: results/reading.md, the run's reading computed from results/verdict.csv, contrasts.csv and summary.csv.

Also a command, to rebuild a recorded reading (the README's docs/reading-default.md) from recorded files:
    .venv/bin/python scripts/reading.py --verdict docs/verdict-default.csv --contrasts docs/contrasts-default.csv \
        --summary results/summary.csv --out docs/reading-default.md
"""

import argparse

from selftrain.io import atomic_write_text
from selftrain.reading import reading
from selftrain.report import read_summary
from selftrain.verdict import read_verdict


def write_reading(out, verdict, contrasts=None, summary=None) -> None:
    """The reading of a verdict file, its contrasts and summary (each optional but the verdict), written to out."""
    atomic_write_text(out, reading(read_verdict(verdict), read_verdict(contrasts) if contrasts else [],
                                   read_summary(summary) if summary else []))


if __name__ == "__main__" and "snakemake" not in globals():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verdict", required=True, help="a verdict.csv")
    ap.add_argument("--contrasts", help="its contrasts.csv")
    ap.add_argument("--summary", help="its summary.csv (the teacher's round 0)")
    ap.add_argument("--out", required=True, help="the reading to write")
    a = ap.parse_args()
    write_reading(a.out, a.verdict, a.contrasts, a.summary)
else:
    from selftrain.step import step

    with step(snakemake, uses_torch=False) as log:  # noqa: F821 (Snakemake's script global)
        i = snakemake.input  # noqa: F821
        write_reading(snakemake.output[0], i.verdict, i.contrasts, i.summary)  # noqa: F821
        log(f"{snakemake.output[0]} written")  # noqa: F821
