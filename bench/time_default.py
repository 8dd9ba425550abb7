"""Time one end-to-end run of a config from a clean results/ and say where the time went.

    .venv/bin/python bench/time_default.py [--configfile config.yaml] [--cores 2] [-d workdir]

Prints the machine's fp32 1024x1024 matmul GFLOP/s (2 threads) before and after the run, the wall time,
and per rule: jobs, total and mean seconds (Snakemake's benchmark files, results/benchmarks/**.tsv), split
into start-up and body from each job's own log (results/logs/**.log, lines stamped from the step's start):
start-up is the job's wall time less its body, i.e. interpreter, Snakemake's script wrapper, imports and
torch, up to the step's first log line; the body is model loading plus the work, up to its last line.
Two configs timed back to back in one session compare on the same machine; a loaded machine shows in
the two matmul figures."""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from common import matmul_peak

ROOT = Path(__file__).resolve().parents[1]


STAMP = re.compile(r"^\[\s*([0-9.]+)s\] ")


def body_seconds(log: Path) -> float | None:
    """Seconds from a step log's first stamped line to its last (None without two stamps)."""
    if not log.is_file():
        return None
    stamps = [float(m.group(1)) for line in log.read_text(errors="replace").splitlines() if (m := STAMP.match(line))]
    return stamps[-1] - stamps[0] if len(stamps) >= 2 else None


def rule_seconds(workdir: Path) -> dict[str, list[tuple[float, float | None]]]:
    """{step name: [(wall seconds, body seconds or None) of each job]} from results/benchmarks/**/<step>.tsv and
    the job's log at the same place under results/logs/."""
    out = defaultdict(list)
    bench = workdir / "results" / "benchmarks"
    for tsv in sorted(bench.rglob("*.tsv")):
        with open(tsv, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        body = body_seconds(workdir / "results" / "logs" / tsv.relative_to(bench).with_suffix(".log"))
        out[tsv.stem] += [(float(r["s"]), body) for r in rows]
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
    for name, jobs in sorted(rule_seconds(workdir).items(), key=lambda kv: -sum(w for w, _ in kv[1])):
        walls = [w for w, _ in jobs]
        total += sum(walls)
        line = f"  {name:24s} {len(jobs):3d} jobs  {sum(walls):7.1f} s  mean {sum(walls) / len(jobs):6.1f} s"
        if all(b is not None for _, b in jobs):
            start = sum(w - b for w, b in jobs) / len(jobs)
            line += f"  (start-up {start:4.1f} s, body {sum(b for _, b in jobs) / len(jobs):6.1f} s)"
        print(line)
    print(f"  {'sum of job times':24s}           {total:7.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
