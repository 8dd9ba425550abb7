"""Measure the kernel spread of a config: the same config and seed run under other kernel settings (thread
counts give another summation order, as another machine does), compared headline by headline.

    .venv/bin/python scripts/kernel_spread.py --run "2 threads=/path/a" --run "1 thread=/path/b" \
        --measured "2026-12-02, 2-core AMD EPYC VM, matmul ..." --margin 2 --out docs/kernel-spread-default.json

Each --run is LABEL=DIRECTORY, a finished run's working directory (its results/verdict.csv: each headline's mean
at its first judged and its last round, and its interval). The file written is what `compare_reference.py --record
--spread` takes its tolerances from. The verdict does not read it: thread counts move only the sampled corpora,
the replicate spread that the seeds already measure (scripts/selftrain/verdict.py)."""

import argparse
import json
import sys
from pathlib import Path

from selftrain.io import atomic_write_text
from selftrain.reference import measure_spread
from selftrain.verdict import read_verdict


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=DIRECTORY", help="a finished run")
    ap.add_argument("--measured", required=True, help="where and when the runs were made")
    ap.add_argument("--margin", type=float, default=2.0, help="tolerances are this many times the largest "
                                                              "difference seen (default 2)")
    ap.add_argument("--out", required=True, help="the kernel-spread file to write")
    a = ap.parse_args(argv)
    runs = []
    for spec in a.run:
        label, _, directory = spec.partition("=")
        res = Path(directory) / "results"
        runs.append({"label": label, "verdicts": read_verdict(res / "verdict.csv")})
    if len(runs) < 2:
        ap.error("two runs at least")
    spread = measure_spread(runs, a.measured, a.margin)
    atomic_write_text(a.out, json.dumps(spread, indent=1, sort_keys=True) + "\n")
    for key, tol in spread["observed"].items():
        print(f"{key}: first round {tol['first_round']:.3g}, last round {tol['last_round']:.3g}, "
              f"interval bounds {tol['interval_bounds']:.3g} (x{a.margin:g} = the tolerances)")
    print(f"{a.out}: written from {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
