"""One real Snakemake `generate` job with generation.backend vllm: vLLM's spawned engine core inside a
Snakemake `script:`, the backend in the provenance record, and the same corpus as the in-process engine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from selftrain.generation import generate_corpus, vllm_sampler
from selftrain.io import read_jsonl
from selftrain.prompts import make_strategy

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TARGET = "results/tiny/unconditional/seed0/round1/generated.jsonl"


def test_a_snakemake_generate_job_runs_vllm_and_records_it(tmp_path, vllm_checkpoint, engine, tiny_tokenizer):
    sampling = {"max_new_tokens": 24}
    cfg = {"seed": 7, "rounds": 1,
           "models": {"tiny": {"base": {"kind": "local", "path": str(vllm_checkpoint)}}},
           "generation": {"backend": "vllm", "tokens_per_round": 300, "batch_size": 16},
           "condition_defaults": {"sampling": sampling},
           "conditions": {"unconditional": {"prompt": {"strategy": "unconditional"}}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
           "--cores", "2", TARGET]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr[-6000:]
    docs = read_jsonl(tmp_path / TARGET)
    assert sum(d["meta"]["n_tokens"] for d in docs) == 300
    # round 1's corpus is generated once in the shared folder and linked into the condition's path: the
    # generate job's record sits beside the shared corpus
    (shared,) = (tmp_path / "results/tiny/shared/seed0/round1").glob("*/generated.jsonl")
    assert (tmp_path / TARGET).resolve() == shared.resolve()
    record = json.loads(shared.with_name("generated.jsonl.prov.json").read_text())
    assert record["facts"]["generation_backend"] == "vllm" and record["facts"]["generation_device"] == "cpu"
    assert record["packages"]["vllm"] == "0.32.0+cpu"
    # the weights vLLM reports having loaded (its model_config.model) are the declared round-0 checkpoint's
    assert record["facts"]["weights"]["path"] == record["input"]["named"]["model"]
    assert record["facts"]["weights"]["files"]["model.safetensors"] == \
        record["input"]["files"][record["input"]["named"]["model"]]["files"]["model.safetensors"]
    # a fresh engine in another process gives the corpus the test's engine gives for the job's seed
    seed = record["params"]["seed"]
    full = dict(record["params"]["sampling"])
    strategy = make_strategy({"strategy": "unconditional"}, tiny_tokenizer, [], seed)
    again = generate_corpus(vllm_sampler(engine.model, full, seed), tiny_tokenizer, strategy, 300, full, 16,
                            "round1", log=lambda *a: None)
    assert again == docs
