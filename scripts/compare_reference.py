"""Check a run's headline numbers against a recorded reference run, within stated tolerances per metric.

    .venv/bin/python scripts/compare_reference.py                      # results/summary_ci.csv vs docs/reference-default.json
    .venv/bin/python scripts/compare_reference.py --record "2026-12-01, 2-core x86 VM" \
        --spread docs/kernel-spread-default.json                       # write the reference, its tolerances

Exits 1 naming every headline number that differs by more than its tolerance (selftrain/reference.py says
why round 0 is held tighter than later rounds). `make verify` is the byte-level check on one machine."""

import argparse
import json
import sys

from selftrain.reference import compare, read_intervals, write_reference


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intervals", default="results/summary_ci.csv", help="the run's summary_ci.csv")
    ap.add_argument("--reference", default="docs/reference-default.json", help="the recorded reference run")
    ap.add_argument("--record", metavar="WHERE_AND_WHEN", help="write the reference from --intervals instead")
    ap.add_argument("--spread", help="with --record: the kernel-spread file (scripts/kernel_spread.py) whose "
                                     "tolerances the reference keeps")
    a = ap.parse_args(argv)
    intervals = read_intervals(a.intervals)
    if a.record:
        spread = json.loads(open(a.spread).read()) if a.spread else None
        write_reference(a.reference, intervals, a.record, spread)
        print(f"{a.reference}: recorded from {a.intervals}")
        return 0
    with open(a.reference) as f:
        reference = json.load(f)
    lines = compare(reference, intervals)
    print(f"{a.intervals} against {a.reference} (measured {reference['measured']}):", *lines, sep="\n")
    bad = [line for line in lines if not line.startswith("ok ")]
    print(f"{len(lines) - len(bad)} of {len(lines)} headline numbers within tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
