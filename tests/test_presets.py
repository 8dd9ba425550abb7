"""Every preset under configs/ validates and dry-runs (snakemake -n) without touching the network or
loading hub libraries: sockets are refused by an audit hook for the whole DAG build."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from selftrain.config import branches, resolve_condition, validate_config
from selftrain.regimes import generates
from workflow_runs import ROOT, jobs_of

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out

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


# hub commits public records show to exist (the presets' comments cite where); a pin outside this table
# is one nobody can check before the cluster's first job fails on it
PUBLIC_PINS = {
    "allenai/OLMo-2-0425-1B": "a1847dff35000b4271fa70afc5db10fd29fedbdf",
    "allenai/OLMo-2-1124-7B": "7df9a82518afdecae4e8c026b27adccc8c1f0032",
    "allenai/OLMo-2-1124-13B": "3fefddc1bf18a30e1d9b91000271630718f2aa8b",
    "allenai/dolmino-mix-1124": "a319f19eef1e257417b11ea8c30da266ae175557",
}


@pytest.mark.parametrize("name", PRESETS)
def test_preset_validates_and_pins_public_commits(name):
    cfg = validate_config(yaml.safe_load((ROOT / "configs" / name).read_text()))
    pins = {spec["base"]["hub_id"]: spec["base"]["revision"] for spec in cfg["models"].values()
            if spec["base"]["kind"] == "hub"}
    if cfg["corpus"]["source"] == "hf":
        pins[cfg["corpus"]["dataset"]] = cfg["corpus"]["revision"]
    assert pins == {repo: PUBLIC_PINS.get(repo) for repo in pins}


EXPECTED_JOBS = {  # conditions x seeds x rounds per model (paper: the grid and the control realonly for 3 models, 2
    # strategic pipelines for 2)
    "paper.yaml": (20 + 1) * 3 * 5 * 3 + 2 * 3 * 5 * 2, "shumailov.yaml": 2 * 3 * 9, "gerstgrasser.yaml": 3 * 3 * 5,
    "drayson.yaml": 4 * 3 * 5, "grid-small.yaml": 5 * 1 * 2,
}
# every job of the preset's own grid (fetch stage aside) and nothing of the embedded default (config.yaml's model and
# conditions merged in made grid-small 108 jobs instead of 41); round 1 is generated and filtered once per distinct
# generation and filter chain (generate_shared, filter_shared) and linked into each condition (link_shared_round); a
# teacher's corpus of a round is written once for all its students (generate_taught) and linked into each student's
# later rounds (link_taught_round): paper's 13B writes 15 corpora for 1B and 7B, not 15 for each; paper's control realonly
# adds 45 trainings and 45 evaluations, and its OLMES tasks build no task file (2 build_task jobs fewer)
EXPECTED_TOTAL = {"paper.yaml": 3937, "shumailov.yaml": 224, "gerstgrasser.yaml": 185, "drayson.yaml": 245,
                  "grid-small.yaml": 58}
# the presets written for a Slurm cluster are also dry-run through the cluster profile
CLUSTER_PRESETS = {"paper.yaml"}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the repository as a user has it: with config.yaml next to the Snakefile, no results."""
    dest = tmp_path_factory.mktemp("checkout") / "selftrain-collapse"
    shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "results", ".snakemake", "__pycache__", ".pytest_cache"))
    assert (dest / "config.yaml").is_file() and (dest / "slurm").is_symlink()
    return dest


@pytest.mark.parametrize(("name", "profile"), [(p, None) for p in PRESETS] + [(p, "slurm") for p in sorted(CLUSTER_PRESETS)])
def test_preset_dry_runs_offline_from_the_checkout(name, profile, checkout, tmp_path):
    """The README's command, typed in the repository root: the preset replaces the default experiment."""
    hf_home = tmp_path / "hf_home"
    # SLURM_CONF to no file: the local Slurm tests/test_slurm.py may have started beside this test is no cluster the
    # preset is meant for (its gpu partition has 4-GPU nodes; 13B trains on 8)
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               SLURM_CONF="/nonexistent/slurm.conf")
    args = ["-n", *(["--profile", profile] if profile else []), "results/figures/collapse.pdf",
            "--configfile", f"configs/{name}"]
    proc = subprocess.run([sys.executable, "-c", GUARD, *args], cwd=checkout, capture_output=True, text=True,
                          env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    jobs = jobs_of(proc.stdout)
    # rounds after the first are generated (or linked from a teacher's corpus) and filtered per condition; round 1's
    # corpora are linked from the shared ones
    linked = jobs["link_shared_round"]
    # a real-data control trains and is evaluated every round, and generates and filters nothing
    preset = validate_config(yaml.safe_load((checkout / "configs" / name).read_text()), check_tasks=False)
    controls = len(preset["seeds"]) * preset["rounds"] * sum(
        1 for _, c in branches(preset) if not generates(resolve_condition(preset, c)["data"]))
    assert jobs["generate"] + jobs.get("link_taught_round", 0) + linked == jobs["filter_corpus"] + linked \
        == jobs["train_round"] - controls == jobs["evaluate_round"] - controls
    assert jobs["train_round"] == jobs["evaluate_round"] == EXPECTED_JOBS[name]
    preset = yaml.safe_load((checkout / "configs" / name).read_text())
    # one fetch job (on the submit node) when the preset names any hub repository
    hub = preset["corpus"].get("source") == "hf" or any(m["base"]["kind"] == "hub" for m in preset["models"].values())
    assert jobs.get("fetch_hub", 0) == int(hub)
    assert sum(jobs.values()) == EXPECTED_TOTAL[name] + int(hub), jobs
    assert jobs["base_model"] == jobs["evaluate_base"] == len(preset["models"])
    imported = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("IMPORTED "))[9:])
    assert imported == [], imported
    assert not hf_home.exists() and not (checkout / "results").exists()


def test_config_on_the_command_line_still_overrides_the_default(checkout):
    """Without --configfile, config.yaml is the experiment and --config edits it."""
    proc = subprocess.run([sys.executable, "-c", GUARD, "-n", "--config", "rounds=2"], cwd=checkout,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    default = validate_config(yaml.safe_load((checkout / "config.yaml").read_text()))
    generating = [(m, c) for m, c in branches(default)
                  if generates(resolve_condition(default, c)["data"])]  # not the real-data control
    rounds_jobs = len(generating) * len(default["seeds"])  # each generating condition with its students
    jobs = jobs_of(proc.stdout)
    # round 2 only: round 1 is generated shared; a teacher's corpus is linked into its student's round 2
    assert jobs["generate"] + jobs.get("link_taught_round", 0) == rounds_jobs
