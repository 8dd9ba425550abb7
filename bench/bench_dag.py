"""DAG: `snakemake -n` time for 3 model sizes x 48 conditions (4 prompting strategies x 4 filters x 3 data
regimes) x 3 seeds x R rounds, for several R; printed (the issue's `snakemake -n`) and with --quiet. And the dry
run a user types to see the paper preset's pending rounds, against its time of 2026-12-02."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from common import ROOT, matmul_peak, report

# `snakemake --profile slurm -n results/figures/collapse.pdf --configfile configs/paper.yaml` took 6.8 s on
# 2026-12-02 (issue 27; 3,841 jobs); it had grown to 32 s (a schema check per job) before anything measured it
PAPER_DRY_RUN_2026_12_02 = 6.8
PAPER_TARGET_SECONDS = 5.0

# the grid axes, one value of each kind the pipeline registers (prompts.py, filters.py, regimes.py)
PROMPTS = {"unconditional": {"strategy": "unconditional"},
           "real_prefix": {"strategy": "real_prefix", "prefix_tokens": 16},
           "topic": {"strategy": "topic"},
           "self_prefix": {"strategy": "self_prefix", "prefix_tokens": 16}}
FILTERS = {"none": [{"name": "none"}],
           "min_length": [{"name": "min_length", "min_tokens": 8}],
           "quality": [{"name": "quality"}],
           "dedup": [{"name": "dedup"}]}
REGIMES = {"replace": {"regime": "replace"},
           "accumulate": {"regime": "accumulate"},
           "mix": {"regime": "mix", "real_fraction": 0.25}}


def grid_config(rounds: int, n_models: int = 3, quick: bool = False) -> dict:
    """A valid config whose grid expands into 4 x 4 x 3 = 48 conditions (quick: 2 x 2 x 1 = 4)."""
    arch = {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2, "max_position_embeddings": 512}
    take = (lambda axis, k: dict(list(axis.items())[:k])) if quick else (lambda axis, k: axis)
    return {
        "rounds": rounds, "seeds": [0, 1, 2],
        "models": {f"m{i}": {"base": {"kind": "pretrain", "architecture": arch}} for i in range(n_models)},
        "grid": {"prompt": take(PROMPTS, 2), "filter": take(FILTERS, 2), "data": take(REGIMES, 1)},
    }


def timed_snakemake(cmd: list[str], cwd=None) -> tuple[float, float, int | None]:
    """Wall and CPU (user + system) seconds of one snakemake command, and the job count its dry run prints (None
    when quiet). CPU seconds matter on a shared machine: other processes stretch the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError((proc.stdout + proc.stderr)[-2000:])
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.M)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return dt, cpu, int(total.group(1)) if total else None


def dry_run(cfg: dict, quiet: bool) -> tuple[float, float, int | None]:
    """timed_snakemake of one `snakemake -n` of a config's all target."""
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(cfg))
        return timed_snakemake([snakemake, "-s", str(ROOT / "Snakefile"), "-d", tmp, "--configfile",
                                str(Path(tmp) / "config.yaml"), "-n", *(["--quiet", "all", "--"] if quiet else []),
                                "all"])


def paper_dry_run() -> tuple[float, float, int | None]:
    """timed_snakemake of the paper preset's dry run through the Slurm profile, run from the repository root as a
    user types it (the profile name resolves there), in a scratch working directory."""
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    with tempfile.TemporaryDirectory() as tmp:
        return timed_snakemake([snakemake, "--profile", "slurm", "-n", "results/figures/collapse.pdf",
                                "--configfile", str(ROOT / "configs/paper.yaml"), "-d", tmp], cwd=ROOT)


def floor_dry_run(jobs: int) -> tuple[float, float, int | None]:
    """timed_snakemake of Snakemake's own floor: a dry run printing as many jobs of a three-rule chain with constant
    resources and shell commands, no input functions, no params, no config. What any workflow of that many jobs
    pays (on 2026-12-06: 6.2 s for 3,900 jobs at 290 GFLOP/s), the part of the paper preset's dry run that no change
    here can remove."""
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Snakefile").write_text(
            f"N = range({-(-jobs // 3)})\nrule all:\n    input: expand('c/{{i}}.txt', i=N)\n" + "".join(
                f"rule {r}:\n" + (f"    input: '{p}/{{i}}.txt'\n" if p else "") + f"    output: '{r}/{{i}}.txt'\n"
                "    resources: mem_mb=1000, runtime=30\n    shell: 'touch {output}'\n"
                for p, r in ((None, "a"), ("a", "b"), ("b", "c"))))
        return timed_snakemake([snakemake, "-n", "--cores", "1"], cwd=tmp)


def main(quick: bool) -> list[dict]:
    import torch

    # the paper preset's dry run in every mode: it is the one a user waits on, and the one that regressed unseen
    gflops = matmul_peak() / 1e9
    wall, cpu, jobs = paper_dry_run()
    # the ratio on CPU seconds: on the quiet VM of 2026-12-02 wall and CPU time were the same, while on a shared
    # machine other processes stretch the wall time only
    paper = report("snakemake --profile slurm -n, paper preset", PAPER_DRY_RUN_2026_12_02 / cpu,
                   f">= {PAPER_DRY_RUN_2026_12_02 / PAPER_TARGET_SECONDS:.2f}x, i.e. <= {PAPER_TARGET_SECONDS:.0f} s "
                   f"(1.00x = the {PAPER_DRY_RUN_2026_12_02} s of 2026-12-02)",
                   seconds=wall, cpu_seconds=cpu, jobs=jobs, within_target=cpu <= PAPER_TARGET_SECONDS,
                   matmul_gflops=gflops, torch_threads=torch.get_num_threads())
    floor_wall, floor_cpu, floor_jobs = floor_dry_run(jobs)
    overhead = report("the paper preset's dry run over Snakemake's floor for as many jobs", cpu / floor_cpu,
                      "as near 1.0x as the workflow allows (the rest is Snakemake's own)", seconds=wall,
                      floor_seconds=floor_wall, floor_cpu_seconds=floor_cpu, floor_jobs=floor_jobs)
    rounds = [1, 2, 3] if quick else [2, 5, 10]
    models = 1 if quick else 3
    printed = {r: dry_run(grid_config(r, models, quick), quiet=False) for r in rounds}
    quiet = {r: dry_run(grid_config(r, models, quick), quiet=True) for r in rounds}
    grid = grid_config(1, models, quick)["grid"]
    n_cond = len(grid["prompt"]) * len(grid["filter"]) * len(grid["data"])
    lo, mid, hi = rounds
    # seconds per added round, late vs early: 1.0 = linear in rounds (a fixed start-up cost cancels)
    slope = {(a, b): (printed[b][0] - printed[a][0]) / (b - a) for a, b in ((lo, mid), (mid, hi), (lo, hi))}
    growth = slope[mid, hi] / slope[lo, mid] if slope[lo, mid] > 0 else None
    return [paper, overhead, report(f"snakemake -n, {models} models x {n_cond} conditions x 3 seeds x {hi} rounds", None, "<= 10 s",
                   seconds=printed[hi][0], cpu_seconds=printed[hi][1], quiet_seconds=quiet[hi][0],
                   jobs=printed[hi][2],
                   per_rounds=" ".join(f"R={r}:{s:.1f}s({c:.1f}cpu)/quiet {quiet[r][0]:.1f}s({quiet[r][1]:.1f}cpu)/{n}jobs"
                                       for r, (s, c, n) in printed.items())),
            report("snakemake -n growth with rounds (1.0 = linear)", growth, "~1.0x", seconds_per_round=slope[lo, hi])]
