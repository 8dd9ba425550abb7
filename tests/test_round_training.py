import json
import sys

from conftest import sample_docs
from selftrain.io import write_jsonl
from selftrain.modeling import build_olmo2, save_checkpoint
from selftrain.round_training import launch_command, run_launched, train_round

TRAINING = {"epochs": 2, "batch_size": 4, "block_size": 32, "lr": 3e-3, "warmup_steps": 1, "min_lr_ratio": 0.1,
            "weight_decay": 0.0, "grad_clip": 1.0, "max_steps": None, "save_every": 0}
CONDITION = {"data": {"regime": "replace"}, "init": "previous"}


def make_spec(tmp_path, tok, arch, out):
    save_checkpoint(build_olmo2(arch, tok, seed=0), tok, tmp_path / "init")
    write_jsonl(tmp_path / "filtered.jsonl", sample_docs(40))
    return {"init": str(tmp_path / "init"), "synthetic": [str(tmp_path / "filtered.jsonl")], "real": None,
            "output": str(out), "condition": CONDITION, "training": TRAINING, "seed": 3, "round": 1,
            "where": "condition c seed 0 round 1"}


def test_launch_command_for_gpus_and_cpu():
    assert launch_command(4, "s.json") == [
        sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--num_processes", "4",
        "--dynamo_backend", "no", "--mixed_precision", "bf16", "--multi_gpu", "-m", "selftrain.round_training", "s.json"]
    assert launch_command(2, "s.json", gpu=False)[-5:] == ["no", "--cpu", "-m", "selftrain.round_training", "s.json"]


def test_data_parallel_training_under_accelerate_launch_matches_the_step_count(tmp_path, tiny_tokenizer, tiny_arch):
    """Two real processes (gloo on CPU) share each global batch; one process writes the checkpoint."""
    single = make_spec(tmp_path, tiny_tokenizer, tiny_arch, tmp_path / "single" / "checkpoint")
    train_round(single, log=lambda *a: None)
    parallel = dict(single, output=str(tmp_path / "ddp" / "checkpoint"))
    run_launched(2, parallel, tmp_path / "ddp.launch.json", gpu=False, log=lambda *a: None)
    a = json.loads((tmp_path / "single/checkpoint/training_info.json").read_text())
    b = json.loads((tmp_path / "ddp/checkpoint/training_info.json").read_text())
    assert (a["steps"], a["tokens_seen"], a["documents"]) == (b["steps"], b["tokens_seen"], b["documents"])
    assert b["final_loss"] < b["first_loss"] - 0.3


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
