"""Time one end-to-end run of a config from a clean results/ and say where the time went.

    .venv/bin/python bench/time_default.py [--configfile config.yaml] [--cores 2] [-d workdir]

Prints the machine's fp32 1024x1024 matmul GFLOP/s (2 threads) before and after the run, the wall time,
and per rule: jobs, total and mean seconds (Snakemake's benchmark files, results/benchmarks/**.tsv).
Two configs timed back to back in one session compare on the same machine; a loaded machine shows in
the two matmul figures."""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from common import matmul_peak

ROOT = Path(__file__).resolve().parents[1]


def rule_seconds(workdir: Path) -> dict[str, list[float]]:
    """{step name: [seconds of each job]} from results/benchmarks/**/<step>.tsv."""
    out = defaultdict(list)
    for tsv in sorted((workdir / "results" / "benchmarks").rglob("*.tsv")):
        with open(tsv, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        out[tsv.stem] += [float(r["s"]) for r in rows]
    return dict(out)


def gflops() -> float:
    import torch

    torch.set_num_threads(2)
    return matmul_peak() / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", default="config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("-d", "--workdir", default=".")
    a = ap.parse_args()
    workdir = Path(a.workdir).resolve()
    before = gflops()
    print(f"matmul fp32 1024x1024, 2 threads: {before:.0f} GFLOP/s (before)", flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call([str(Path(sys.executable).parent / "snakemake"), "results/figures/collapse.pdf",
                          "results/manifest.json", "--cores", str(a.cores), "--configfile", a.configfile], cwd=workdir,
                         stdout=subprocess.DEVNULL, stderr=open(workdir / "time_default.log", "w"))
    wall = time.perf_counter() - t0
    after = gflops()
    print(f"{a.configfile}: rc {rc}, wall {wall:.0f} s; matmul {before:.0f} GFLOP/s before, {after:.0f} after")
    total = 0.0
    for name, secs in sorted(rule_seconds(workdir).items(), key=lambda kv: -sum(kv[1])):
        total += sum(secs)
        print(f"  {name:24s} {len(secs):3d} jobs  {sum(secs):7.1f} s  mean {sum(secs) / len(secs):6.1f} s")
    print(f"  {'sum of job times':24s}           {total:7.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
