"""Does an OLMES metric give a finished run a signal beyond its replicate spread? (issue 25, item 5)

    .venv/bin/python bench/olmes_signal.py [-d results] [--tasks lambada:bpb::olmes ...] [--limit 200]

Scores round 0 and every branch's last round of a finished run (the embedded default: make run) on OLMES
tasks through the project's evaluation path (selftrain.evaluation.evaluate_checkpoint, the config's batch size
and max_length), then judges each condition's change from round 0 as the verdict does (selftrain.verdict.judge:
95% t interval over seeds, the flip probability of a replicate). Prints, per task and metric, each condition's
change with its interval and class, and the seconds one checkpoint's scoring took beside the matmul figure, so
that the cost of adding the tasks to every evaluation job can be set against make run's time."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml
from common import matmul_peak

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

TASKS = ["lambada:bpb::olmes", "hellaswag:rc::olmes", "arc_easy:rc::olmes", "piqa:rc::olmes"]


def main() -> None:
    import torch

    from selftrain.config import branches, model_section, validate_config
    from selftrain.evaluation import evaluate_checkpoint
    from selftrain.modeling import load_checkpoint
    from selftrain.verdict import judge

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--results", default="results", help="a finished run's results/ (default: results)")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--tasks", nargs="+", default=TASKS)
    ap.add_argument("--limit", type=int, default=200, help="instances per task")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as the default's evaluation jobs (cpus_per_task 1)
    cfg = validate_config(yaml.safe_load((ROOT / args.config).read_text()), check_tasks=False)
    results = Path(args.results)
    students = sorted({m for m, _ in branches(cfg)})
    print(f"matmul fp32 1024x1024, 2 threads: {matmul_peak() / 1e9:.0f} GFLOP/s (before)")
    scores, seconds = {}, []
    for model in students:
        section = model_section(cfg, model, "evaluation")
        evaluation = {"batch_size": section["batch_size"], "max_length": section["max_length"],
                      "downstream": {"tasks": [{"name": t, "limit": args.limit} for t in args.tasks]}}
        checkpoints = {("round0", None): results / model / "round0" / "checkpoint"}
        conditions = sorted(c for m, c in branches(cfg) if m == model)
        for cond in conditions:
            for seed in cfg["seeds"]:
                checkpoints[cond, seed] = results / model / cond / f"seed{seed}" / f"round{cfg['rounds']}" / "checkpoint"
        for key, path in checkpoints.items():
            lm, tok = load_checkpoint(path)
            start = time.perf_counter()
            _, downstream = evaluate_checkpoint(lm, tok, evaluation, {}, {}, seed=0)
            seconds.append(time.perf_counter() - start)
            scores[key] = downstream
            print(f"{model} {key}: {seconds[-1]:.1f} s", flush=True)
        for task in args.tasks:
            base = scores["round0", None][task]
            for metric in [m for m in ("bpb", "acc", "acc_per_char") if m in base]:
                better = "lower" if metric == "bpb" else "higher"
                print(f"\n{model} {task} {metric}: round 0 {base[metric]:.4f}")
                for cond in conditions:
                    changes = [scores[cond, s][task][metric] - base[metric] for s in cfg["seeds"]]
                    v = judge(changes, better, cfg["verdict"]["max_flip_probability"])
                    print(f"  {cond:10s} {v['change']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}] {v['verdict']} "
                          f"(flip {v['flip_probability']:.2f}; per seed {', '.join(f'{c:+.4f}' for c in changes)})")
    print(f"\nscoring one checkpoint on {len(args.tasks)} tasks x {args.limit} instances: "
          f"{sum(seconds) / len(seconds):.1f} s mean over {len(seconds)} (1 thread)")
    print(f"matmul fp32 1024x1024, 2 threads: {matmul_peak() / 1e9:.0f} GFLOP/s (after)")


if __name__ == "__main__":
    main()
