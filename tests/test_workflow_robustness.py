"""End to end: a killed run leaves its resume states where scratch_dir says and run_until proves its kills; bad
input fails with one clear message. (The kills of a whole run and their resumption to the bytes of an
uninterrupted one are in tests/test_workflow.py, which holds every test that reads the tiny run.)"""

import json
from pathlib import Path

import pytest

from workflow_runs import TINY, run_until, snakemake, write_config

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out


def test_a_run_that_ends_before_its_kill_point_or_outlives_its_timeout_is_an_error(tmp_path):
    """run_until proves a kill only when it made one: a run that finishes first fails the test, and a run still
    going at the timeout is killed, not left running."""
    cfg = json.loads(json.dumps(TINY))
    write_config(tmp_path, cfg)
    with pytest.raises(AssertionError, match=r"ended \(exit 0\) before"):
        run_until(tmp_path, "results/logs/never.log", "never", target="results/data/train.jsonl")
    with pytest.raises(AssertionError, match="did not say 'never' within 1 s"):
        run_until(tmp_path, "results/logs/never.log", "never", timeout=1, target="results/pico/round0/checkpoint")
    # killed at the timeout: no process of that run is left
    left = [p for p in Path("/proc").glob("[0-9]*") if str(tmp_path) in _cmdline(p)]
    assert left == [], left


def _cmdline(proc_dir):
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # ended meanwhile
        return ""


def test_resume_states_live_under_the_configured_scratch_root_and_go_after_success(tmp_path, monkeypatch):
    from selftrain.resume_state import scratch_root

    monkeypatch.setenv("SELFTRAIN_TEST_SCRATCH", str(tmp_path / "node_scratch"))
    wd = tmp_path / "wd"
    cfg = json.loads(json.dumps(TINY))
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


@pytest.mark.parametrize("change,message", [
    ({"corpus": {"source": "jsonl", "path": "corpus.jsonl"}}, "corpus.jsonl:3: invalid JSON"),
    # found before any job (config.check_paths), like a missing base model
    ({"corpus": {"source": "jsonl", "path": "empty.jsonl"}}, "config key 'corpus.path': empty.jsonl holds no record"),
    ({"models": {"pico": {"base": {"kind": "local", "path": "no/such/model"}}}},
     "config key 'models.pico.base.path': no checkpoint (config.json) in 'no/such/model'"),
])
def test_bad_corpus_or_base_model_gives_one_clear_error(tmp_path, change, message):
    cfg = json.loads(json.dumps(TINY))
    cfg.update(change)
    write_config(tmp_path, cfg)
    (tmp_path / "corpus.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n{"id": "c", "text": \n')
    (tmp_path / "empty.jsonl").write_text("")
    proc = snakemake(tmp_path, "results/manifest.json", check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (tmp_path / "results/data/train.jsonl").exists()
