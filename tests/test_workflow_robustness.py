"""End to end: SIGKILL of the whole Snakemake process group at several points, then reruns, must give the
bytes of an uninterrupted run; bad input fails with one clear message and loses nothing built."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from selftrain.config import resolve_condition, shared_round_keys, validate_config
from test_workflow import ROOT, SNAKEMAKE, TINY, snakemake, write_config

KILL = json.loads(json.dumps(TINY))
KILL.update(seed=3, rounds=1, conditions={"unconditional": {"prompt": {"strategy": "unconditional"}}})
# long enough trainings to be killed between two resume states
KILL["models"]["pico"]["base"]["training"].update(max_steps=100, save_every=20)
KILL["training"].update(epochs=20, save_every=10)
STATUS = [sys.executable, str(ROOT / "scripts/status.py")]
# the folder of the round-1 generation unconditional shares
SHARED = shared_round_keys(resolve_condition(validate_config(json.loads(json.dumps(KILL)), check_tasks=False),
                                             "unconditional"))[0]


def run_until(workdir, log, text, timeout=600, target="results/manifest.json"):
    """Start Snakemake on the target and SIGKILL its whole process group once `log` contains `text`;
    True if killed, False if the run finished first."""
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
           str(workdir / "config.yaml"), "--cores", "2", target]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    path, t0 = workdir / log, time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        if path.is_file() and text in path.read_text():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            snakemake(workdir, "--unlock")  # a killed Snakemake leaves its lock behind
            return True
        time.sleep(0.05)
    return False


def outputs(workdir):
    """{path: bytes} of every result file but logs and timings (which hold times)."""
    res = workdir / "results"
    return {p.relative_to(res): p.read_bytes() for p in res.rglob("*")
            if p.is_file() and p.relative_to(res).parts[0] not in ("logs", "benchmarks")
            and p.name != ".snakemake_timestamp"}


def status_of(workdir, condition):
    """The round cells of a condition's row in the status table."""
    table = subprocess.run(STATUS + ["-d", str(workdir)], capture_output=True, text=True, check=True).stdout
    row = next(line for line in table.splitlines() if line.split()[:2] == ["pico", condition])
    return re.split(r"\s{2,}", row.strip())[3:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    wd = tmp_path_factory.mktemp("uninterrupted")
    write_config(wd, KILL)
    snakemake(wd, "results/manifest.json")
    return wd


def test_killed_runs_resume_to_the_bytes_of_an_uninterrupted_run(reference, tmp_path):
    wd = tmp_path / "killed"
    write_config(wd, KILL)
    res, rnd = wd / "results", wd / "results/pico/unconditional/seed0/round1"
    # 1. base pre-training, between two resume states
    assert run_until(wd, "results/logs/pico/round0/base_model.log", "resume state saved at step 40")
    assert not (res / "pico/round0/checkpoint").exists()
    assert (res / ".scratch/pico/round0/checkpoint/state.json").is_file()
    # 2. generation (round 1: the shared one), before its corpus is written
    assert run_until(wd, f"results/logs/pico/shared/seed0/round1/{SHARED}/generate.log", "rule generate_shared")
    assert not (rnd / "generated.jsonl").exists() and (res / "pico/round0/checkpoint.prov.json").is_file()
    assert status_of(wd, "shared")[-1] == "failed (generate_shared)"
    assert status_of(wd, "unconditional")[-1] == "pending (link_shared_round)"
    # 3. the round's continual pre-training, after a resume state
    assert run_until(wd, "results/logs/pico/unconditional/seed0/round1/train_round.log", "resume state saved at step 20")
    assert not (rnd / "checkpoint").exists()
    # then run to the end
    assert not run_until(wd, "results/logs/none.log", "never")
    assert "resumed from step" in (res / "logs/pico/round0/base_model.log").read_text()
    assert "resumed from step" in (res / "logs/pico/unconditional/seed0/round1/train_round.log").read_text()
    assert not (res / ".scratch").exists()
    assert status_of(wd, "unconditional") == ["done", "done"]
    done, ref = outputs(wd), outputs(reference)
    assert sorted(done) == sorted(ref)
    assert [p for p in ref if done[p] != ref[p]] == []


def test_resume_states_live_under_the_configured_scratch_root_and_go_after_success(tmp_path, monkeypatch):
    from selftrain.resume_state import scratch_root

    monkeypatch.setenv("SELFTRAIN_TEST_SCRATCH", str(tmp_path / "node_scratch"))
    wd = tmp_path / "wd"
    cfg = json.loads(json.dumps(KILL))
    cfg["scratch_dir"] = "$SELFTRAIN_TEST_SCRATCH/jobs"
    write_config(wd, cfg)
    root = Path(scratch_root(cfg["scratch_dir"], wd))
    assert root.parent == tmp_path / "node_scratch/jobs"
    target, log = "results/pico/round0/checkpoint", wd / "results/logs/pico/round0/base_model.log"
    assert run_until(wd, log.relative_to(wd), "resume state saved at step 40", target=target)
    assert (root / "pico/round0/checkpoint/state.json").is_file()
    assert not (wd / "results/.scratch").exists() and not (wd / target).exists()
    snakemake(wd, target)
    assert f"resumed from step 40 ({root}/pico/round0/checkpoint)" in log.read_text()
    # only the finished weights are kept: the per-workdir folder is gone, the user's scratch folder stays
    assert not root.exists() and root.parent.is_dir()
    record = json.loads((wd / f"{target}.prov.json").read_text())
    assert record["facts"]["scratch_dir"] == f"{root}/pico/round0/checkpoint"
    assert "scratch_dir" not in record["params"]  # moving the scratch reruns nothing


def test_a_filter_that_empties_the_corpus_fails_and_keeps_what_was_built(reference):
    before = outputs(reference)
    cfg = json.loads(json.dumps(KILL))
    cfg["conditions"]["strict"] = {"prompt": {"strategy": "unconditional"},
                                   "filters": [{"name": "min_length", "min_tokens": 10000}]}
    write_config(reference, cfg)
    try:
        proc = snakemake(reference, "results/manifest.json", check=False)
        assert proc.returncode != 0
        assert "condition strict seed 0 round 1: the filters ['min_length'] removed every document" in proc.stdout + proc.stderr
        after = outputs(reference)
        assert {p: after[p] for p in before} == before  # nothing already built is lost or changed
        # its round 1 shares unconditional's generation; the filtering of that corpus by its chain failed
        assert status_of(reference, "shared") == ["done", "failed (filter_shared)"]
        assert status_of(reference, "strict") == ["done", "pending (link_shared_round)"]
    finally:
        write_config(reference, KILL)


@pytest.mark.parametrize("change,message", [
    ({"corpus": {"source": "jsonl", "path": "corpus.jsonl"}}, "corpus.jsonl:3: invalid JSON"),
    ({"corpus": {"source": "jsonl", "path": "empty.jsonl"}}, "corpus: source 'jsonl' gave no document"),
    ({"models": {"pico": {"base": {"kind": "local", "path": "no/such/model"}}}},
     "config key 'models.pico.base.path': no checkpoint (config.json) in 'no/such/model'"),
])
def test_bad_corpus_or_base_model_gives_one_clear_error(tmp_path, change, message):
    cfg = json.loads(json.dumps(KILL))
    cfg.update(change)
    write_config(tmp_path, cfg)
    (tmp_path / "corpus.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n{"id": "c", "text": \n')
    (tmp_path / "empty.jsonl").write_text("")
    proc = snakemake(tmp_path, "results/manifest.json", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results/data/train.jsonl").exists()
