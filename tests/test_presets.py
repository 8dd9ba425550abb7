"""Every preset under configs/ validates and dry-runs (snakemake -n) without touching the network or
loading hub libraries: sockets are refused by an audit hook for the whole DAG build."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from selftrain.config import validate_config
from test_workflow import ROOT, jobs_of

PRESETS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
# runs Snakemake's CLI in this interpreter with every socket connection refused, then reports which
# heavy or remote-capable libraries the DAG build imported
GUARD = """
import atexit, json, sys
def refuse(event, args):
    if event == "socket.connect":
        raise RuntimeError(f"network access during a dry run: {args}")
sys.addaudithook(refuse)
heavy = ("torch", "transformers", "datasets", "huggingface_hub", "vllm", "lm_eval")
atexit.register(lambda: print("IMPORTED " + json.dumps(sorted(m for m in heavy if m in sys.modules))))
from snakemake.cli import main
sys.argv[0] = "snakemake"
main()
"""


def test_presets_exist():
    assert {"paper.yaml", "shumailov.yaml", "gerstgrasser.yaml", "drayson.yaml", "grid-small.yaml"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_validates(name):
    cfg = validate_config(yaml.safe_load((ROOT / "configs" / name).read_text()))
    for model, spec in cfg["models"].items():
        if spec["base"]["kind"] == "hub":
            assert len(spec["base"]["revision"]) == 40, model


EXPECTED_JOBS = {  # conditions x seeds x rounds per model
    "paper.yaml": 20 * 3 * 5 * 3, "shumailov.yaml": 2 * 3 * 9, "gerstgrasser.yaml": 3 * 3 * 5,
    "drayson.yaml": 4 * 3 * 5, "grid-small.yaml": 4 * 1 * 2,
}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_dry_runs_offline(name, tmp_path):
    hf_home = tmp_path / "hf_home"
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-c", GUARD, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
           str(ROOT / "configs" / name), "-n", "--cores", "2", "results/figures/collapse.pdf"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    jobs = jobs_of(proc.stdout)
    assert jobs["generate"] == jobs["filter_corpus"] == jobs["train_round"] == jobs["evaluate_round"] == EXPECTED_JOBS[name]
    imported = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("IMPORTED "))[9:])
    assert imported == [], imported
    assert not hf_home.exists() and not (tmp_path / "results").exists()
