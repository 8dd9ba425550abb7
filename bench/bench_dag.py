"""DAG: `snakemake -n` time for 3 model sizes x 48 conditions x 3 seeds x R rounds, for several R."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import ROOT, report


def grid_config(rounds: int, n_models: int = 3, n_conditions: int = 48) -> dict:
    arch = {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2, "max_position_embeddings": 512}
    conditions = {}
    # 4 prompts x 4 filters x 3 sampling temperatures = 48 conditions
    prompts = [("unconditional", {"strategy": "unconditional"})] + [
        (f"real_prefix{k}", {"strategy": "real_prefix", "prefix_tokens": k}) for k in (8, 16, 32)]
    filters = [("none", [])] + [(f"minlen{k}", [{"name": "min_length", "min_tokens": k}]) for k in (4, 8, 16)]
    for (pn, p), (fn, f), t in itertools.product(prompts, filters, (0.7, 1.0, 1.3)):
        conditions[f"prompt-{pn}__filter-{fn}__temp-{t}"] = {"prompt": p, "filters": f, "sampling": {"temperature": t}}
    conditions = dict(list(conditions.items())[:n_conditions])
    return {
        "rounds": rounds, "seeds": [0, 1, 2],
        "models": {f"m{i}": {"base": {"kind": "pretrain", "architecture": arch}} for i in range(n_models)},
        "conditions": conditions,
    }


def dry_run_seconds(cfg: dict) -> tuple[float, int]:
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(cfg))
        t0 = time.perf_counter()
        proc = subprocess.run([snakemake, "-s", str(ROOT / "Snakefile"), "-d", tmp, "--configfile",
                               str(Path(tmp) / "config.yaml"), "-n", "--quiet", "all"],
                              capture_output=True, text=True)
        dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError((proc.stdout + proc.stderr)[-2000:])
    jobs = 3 + len(cfg["models"]) * 3 + len(cfg["models"]) * len(cfg["conditions"]) * len(cfg["seeds"]) * cfg["rounds"] * 4
    return dt, jobs


def main(quick: bool) -> list[dict]:
    rounds = [1, 2] if quick else [2, 5, 10]
    models, n_cond = (1, 4) if quick else (3, 48)
    results = {r: dry_run_seconds(grid_config(r, models, n_cond)) for r in rounds}
    lo, hi = rounds[0], rounds[-1]
    growth = (results[hi][0] / results[lo][0]) / (hi / lo)
    return [report(f"snakemake -n, {models} models x {n_cond} conditions x 3 seeds x {hi} rounds", None, "<= 10 s",
                   seconds=results[hi][0], jobs=results[hi][1],
                   per_rounds=" ".join(f"R={r}:{s:.1f}s" for r, (s, _) in results.items())),
            report("snakemake -n growth with rounds (1.0 = linear)", growth, "~1.0x", )]
