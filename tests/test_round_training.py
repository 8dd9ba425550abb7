import json

import pytest

from conftest import sample_docs
from selftrain.io import write_jsonl
from selftrain.modeling import build_olmo2, save_checkpoint
from selftrain.round_training import run_training, train_round

TRAINING = {"epochs": 2, "batch_size": 4, "block_size": 32, "lr": 3e-3, "warmup_steps": 1, "min_lr_ratio": 0.1,
            "weight_decay": 0.0, "grad_clip": 1.0, "max_steps": None, "save_every": 0}
CONDITION = {"data": {"regime": "replace"}, "init": "previous"}


def make_spec(tmp_path, tok, arch, out):
    save_checkpoint(build_olmo2(arch, tok, seed=0), tok, tmp_path / "init")
    write_jsonl(tmp_path / "filtered.jsonl", sample_docs(40))
    return {"job": "round", "init": str(tmp_path / "init"), "synthetic": [str(tmp_path / "filtered.jsonl")], "real": None,
            "output": str(out), "condition": CONDITION, "training": TRAINING, "seed": 3, "round": 1,
            "where": "condition c seed 0 round 1"}


@pytest.mark.slow
def test_data_parallel_training_under_torchrun_matches_one_process(tmp_path, tiny_tokenizer, tiny_arch):
    """Two real processes (DDP over gloo, sharding none) split each global batch; one writes the checkpoint."""
    single = make_spec(tmp_path, tiny_tokenizer, tiny_arch, tmp_path / "single" / "checkpoint")
    train_round(single, log=lambda *a: None)
    parallel = dict(single, output=str(tmp_path / "ddp" / "checkpoint"), training=dict(TRAINING, sharding="none"))
    run_training(parallel, 2, tmp_path / "ddp.launch.json", log=lambda *a: None)
    a = json.loads((tmp_path / "single/checkpoint/training_info.json").read_text())
    b = json.loads((tmp_path / "ddp/checkpoint/training_info.json").read_text())
    assert (a["steps"], a["tokens_seen"], a["documents"]) == (b["steps"], b["tokens_seen"], b["documents"])
    assert b["first_loss"] == pytest.approx(a["first_loss"], abs=1e-5)
    assert b["final_loss"] == pytest.approx(a["final_loss"], abs=1e-5)
    assert not (tmp_path / "ddp.launch.json").exists()


def test_round_resume_states_land_under_the_scratch_root_and_go_after_success(tmp_path, tiny_tokenizer, tiny_arch):
    root = tmp_path / "scratch" / "selftrain-0123"
    spec = make_spec(tmp_path, tiny_tokenizer, tiny_arch, tmp_path / "out" / "checkpoint")
    spec.update(scratch_root=str(root), training=dict(TRAINING, save_every=2))
    state = root / str(tmp_path / "out" / "checkpoint").lstrip("/") / "state.json"
    seen = []

    def log(*parts):
        if str(parts[0]).startswith("resume state saved"):
            seen.append(state.is_file())

    train_round(spec, log=log)
    assert seen and all(seen)  # each save landed under the root
    assert not root.exists() and (tmp_path / "scratch").is_dir()  # removed after success, the user's folder kept
    assert (tmp_path / "out/checkpoint/model.safetensors").is_file()
