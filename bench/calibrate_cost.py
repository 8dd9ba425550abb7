"""Compare the cost plan with a finished run's measured job times, per kind of job.

    .venv/bin/python bench/calibrate_cost.py [--configfile config.yaml] [-d workdir] [--threads 1]

For each kind (base, generate, filter, train, evaluate): the jobs and seconds measured (wall: Snakemake's
benchmark files, results/benchmarks/**.tsv; body: from the step's first to its last log line, see
time_default.py), the jobs and seconds the plan of the same config gives, and the ratios measured / planned.
The plan's CPU jobs run on one core at this machine's fp32 1024x1024 matmul rate (bench/common.matmul_peak on
--threads threads, measured now) at MFU 1, so a ratio of 5 says the kind's jobs took 5x what their FLOPs need
at the matmul rate: start-up, memory-bound work (sampling, norms), a busy machine. Run it right after the
run: the matmul rate printed with it shows how loaded the machine is."""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import yaml
from common import matmul_peak
from time_default import rule_seconds

from selftrain.config import validate_config
from selftrain.cost_plan import plan

# the benchmark file of each kind's step (rules/*.smk: benchmark_path(<step>, ...))
STEPS = {"base_model": "base", "generate": "generate", "filter_corpus": "filter", "train_round": "train",
         "evaluate": "evaluate"}


def calibration(config: dict, workdir: Path, gflops: float) -> list[dict]:
    """Per kind: measured jobs, wall and body seconds (summed), planned jobs and seconds, ratios."""
    cfg = copy.deepcopy(config)
    figure = {"mfu": 1.0, "source": f"the fp32 matmul rate measured with this comparison ({gflops:.1f} GFLOP/s)"}
    cfg["cost"]["throughput"]["cpu"] = {"peak_tflops": gflops / 1000, "source": "bench/common.matmul_peak",
                                        **{kind: [figure] for kind in ("train", "generate", "filter", "evaluate")}}
    planned = {}
    for jobs in plan(cfg, root=workdir).jobs:
        row = planned.setdefault(jobs.kind, {"jobs": 0, "estimated": 0, "seconds": 0.0})
        row["jobs"] += jobs.count
        if jobs.seconds is not None:
            row["estimated"] += jobs.count
            row["seconds"] += jobs.count * jobs.seconds
    measured = {}
    for step, runs in rule_seconds(workdir).items():
        if step in STEPS:
            row = measured.setdefault(STEPS[step], {"jobs": 0, "wall": 0.0, "body": 0.0, "bodies": 0})
            row["jobs"] += len(runs)
            row["wall"] += sum(w for w, _ in runs)
            row["body"] += sum(b for _, b in runs if b is not None)
            row["bodies"] += sum(b is not None for _, b in runs)
    rows = []
    for kind in STEPS.values():
        m, p = measured.get(kind), planned.get(kind)
        if not m or not p:
            continue
        seconds = p["seconds"] if p["estimated"] == p["jobs"] else None  # a kind the plan leaves work of out
        rows.append({"kind": kind, "jobs": m["jobs"], "planned_jobs": p["jobs"], "wall": m["wall"],
                     "body": m["body"] if m["bodies"] == m["jobs"] else None, "planned": seconds,
                     "wall_ratio": m["wall"] / seconds if seconds else None,
                     "body_ratio": m["body"] / seconds if seconds and m["bodies"] == m["jobs"] else None})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", default="config.yaml", help="the config the run used")
    ap.add_argument("-d", "--workdir", default=".", help="the run's working directory (holding results/)")
    ap.add_argument("--threads", type=int, default=1, help="threads of the matmul rate (the default's round jobs: 1)")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    gflops = matmul_peak() / 1e9
    workdir = Path(a.workdir).resolve()
    config = validate_config(yaml.safe_load(Path(a.configfile).read_text()))
    print(f"fp32 1024x1024 matmul, {a.threads} thread(s): {gflops:.1f} GFLOP/s; plan of {a.configfile} at that "
          f"rate, MFU 1, one core per job")
    print("| job | jobs (measured / planned) | measured wall s | measured body s | planned s | wall / planned | "
          "body / planned |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for r in calibration(config, workdir, gflops):
        print(f"| {r['kind']} | {r['jobs']} / {r['planned_jobs']} | {r['wall']:.1f} | {fmt(r['body'], '.1f')} | "
              f"{fmt(r['planned'], '.1f')} | {fmt(r['wall_ratio'], '.2f')} | {fmt(r['body_ratio'], '.2f')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
