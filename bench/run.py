"""Run the benchmark suite: `python bench/run.py` (full) or `python bench/run.py --quick` (CI smoke).

Each benchmark prints ratios measured in one run on this machine, so noise cancels, plus absolute figures."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

SUITES = ["bench_generation", "bench_training", "bench_eval", "bench_filters", "bench_dag", "bench_imports"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that every benchmark still runs")
    ap.add_argument("--only", nargs="*", default=SUITES, choices=SUITES)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the machine has 2 cores)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    results = []
    for name in args.only:
        t0 = time.perf_counter()
        results.extend(importlib.import_module(name).main(args.quick))
        print(f"  ({name}: {time.perf_counter() - t0:.1f}s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
