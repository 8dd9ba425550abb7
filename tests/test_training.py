import shutil
from pathlib import Path

import numpy as np
import pytest

from selftrain.training import lr_at, pack_blocks, tokenize_documents, train_causal_lm


def test_pack_blocks_joins_with_eos_and_drops_remainder():
    blocks = pack_blocks([[1, 2, 3], [4], [5, 6]], block_size=3, eos_id=0)
    # stream: 1 2 3 0 4 0 5 6 0 -> three full blocks, nothing padded
    assert blocks.tolist() == [[1, 2, 3], [0, 4, 0], [5, 6, 0]]
    assert pack_blocks([[1, 2, 3], [4]], block_size=4, eos_id=9).tolist() == [[1, 2, 3, 9]]


def test_lr_schedule_warmup_then_cosine():
    assert lr_at(0, 10, 1.0, 2, 0.1) == pytest.approx(0.5)
    assert lr_at(1, 10, 1.0, 2, 0.1) == pytest.approx(1.0)
    assert lr_at(2, 10, 1.0, 2, 0.1) == pytest.approx(1.0)
    assert lr_at(10, 10, 1.0, 2, 0.1) == pytest.approx(0.1)
    assert lr_at(6, 10, 1.0, 2, 0.1) == pytest.approx(0.1 + 0.9 * 0.5)


def test_training_lowers_loss_and_is_deterministic(tiny_tokenizer, tiny_arch):
    from selftrain.modeling import build_olmo2
    from conftest import sample_docs

    ids = tokenize_documents(tiny_tokenizer, [d["text"] for d in sample_docs()])
    blocks = pack_blocks(ids, 32, tiny_tokenizer.eos_token_id)
    cfg = {"epochs": 3, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2}
    runs = []
    for _ in range(2):
        model = build_olmo2(tiny_arch, tiny_tokenizer, seed=0)
        stats = train_causal_lm(model, blocks, cfg, seed=1, log=lambda *a: None)
        runs.append((stats, [p.detach().clone() for p in model.parameters()]))
    stats = runs[0][0]
    assert stats["steps"] == 3 * int(np.ceil(len(blocks) / 8))
    assert stats["tokens_seen"] == 3 * blocks.size
    assert stats["final_loss"] < stats["first_loss"] - 0.5
    assert runs[0][0] == runs[1][0]
    assert all((a == b).all() for a, b in zip(runs[0][1], runs[1][1]))


@pytest.mark.skipif(not shutil.which("g++"), reason="torch inductor on CPU needs g++")
@pytest.mark.slow
def test_compiled_training_matches_eager(tiny_tokenizer, tiny_arch):
    """training.compile changes the kernels, not the arithmetic: the same losses to float tolerance."""
    from conftest import sample_docs
    from selftrain.modeling import build_olmo2

    blocks = pack_blocks(tokenize_documents(tiny_tokenizer, [d["text"] for d in sample_docs()]), 32,
                         tiny_tokenizer.eos_token_id)
    stats = {}
    for flag in (False, True):
        cfg = {"epochs": 1, "max_steps": 3, "batch_size": 8, "lr": 3e-3, "warmup_steps": 1, "compile": flag}
        stats[flag] = train_causal_lm(build_olmo2(tiny_arch, tiny_tokenizer, seed=0), blocks, cfg, seed=1,
                                      log=lambda *a: None)
    assert stats[True]["steps"] == stats[False]["steps"] == 3
    assert stats[True]["final_loss"] == pytest.approx(stats[False]["final_loss"], rel=1e-4)


def test_compile_without_a_cpp_compiler_names_the_key(tiny_model, monkeypatch):
    from selftrain.io import InputError

    monkeypatch.setenv("CXX", "/nonexistent/g++")
    cfg = {"epochs": 1, "batch_size": 1, "lr": 1e-3, "compile": True}
    with pytest.raises(InputError, match="training.compile"):
        train_causal_lm(tiny_model, np.zeros((2, 32), dtype=np.int64), cfg, 0, log=lambda *a: None)


def test_training_without_a_full_block_is_an_error(tiny_model):
    with pytest.raises(ValueError, match="block_size"):
        train_causal_lm(tiny_model, np.zeros((0, 32), dtype=np.int64), {"epochs": 1, "batch_size": 1, "lr": 1e-3}, 0)


class Killed(Exception):
    """Stands in for SIGKILL inside the training loop (raised from the log callback)."""


def _train(tiny_tokenizer, tiny_arch, blocks, cfg, resume_dir=None, kill_on=None, seed=1):
    from selftrain.modeling import build_olmo2

    lines = []

    def log(line):
        lines.append(line)
        if kill_on and line.startswith(kill_on):
            raise Killed(line)

    model = build_olmo2(tiny_arch, tiny_tokenizer, seed=0)
    try:
        stats = train_causal_lm(model, blocks, cfg, seed=seed, log=log, resume_dir=resume_dir)
    except Killed:
        return None, None, lines
    return stats, [p.detach().clone() for p in model.parameters()], lines


@pytest.mark.parametrize("kill_on,resumed_from", [
    ("step 3/", 2),                      # between two saves: the steps after the last save are redone
    ("resume state saved at step 4", 4),  # right after a save
    ("resume state saved at step 6", 6),  # a save on the epoch boundary (6 steps per epoch)
])
def test_killed_training_resumes_to_identical_weights(tiny_tokenizer, tiny_arch, tmp_path, kill_on, resumed_from):
    from conftest import sample_docs
    from selftrain.resume_state import discard_resume_state

    blocks = pack_blocks(tokenize_documents(tiny_tokenizer, [d["text"] for d in sample_docs()]), 32,
                         tiny_tokenizer.eos_token_id)
    assert int(np.ceil(len(blocks) / 16)) == 6
    cfg = {"epochs": 2, "batch_size": 16, "lr": 3e-3, "warmup_steps": 2, "save_every": 2}
    ref_stats, ref_weights, _ = _train(tiny_tokenizer, tiny_arch, blocks, cfg)
    scratch = tmp_path / ".scratch" / "checkpoint"
    assert _train(tiny_tokenizer, tiny_arch, blocks, cfg, scratch, kill_on=kill_on)[0] is None
    assert sorted(p.name for p in scratch.iterdir()) == ["model-00000-of-00001.safetensors", "optimizer-00000-of-00001.safetensors",
                                                          "state.json"]
    # a state of another run (other seed) is ignored, not resumed
    _, _, lines = _train(tiny_tokenizer, tiny_arch, blocks, cfg, scratch, kill_on="step 1/", seed=2)
    assert not any(line.startswith("resumed") for line in lines)
    # killed again after resuming, then resumed a second time
    stats, _, lines = _train(tiny_tokenizer, tiny_arch, blocks, cfg, scratch, kill_on="resume state saved at step 10")
    assert stats is None and f"resumed from step {resumed_from} ({scratch})" in lines
    stats, weights, lines = _train(tiny_tokenizer, tiny_arch, blocks, cfg, scratch)
    assert f"resumed from step 10 ({scratch})" in lines
    assert stats == ref_stats
    assert all(torch_equal(a, b) for a, b in zip(weights, ref_weights))
    discard_resume_state(scratch)
    assert not (tmp_path / ".scratch").exists() and tmp_path.exists()


def torch_equal(a, b):
    return bool((a == b).all())


def test_scratch_dir_mirrors_the_target_outside_it():
    from selftrain.resume_state import scratch_dir

    assert scratch_dir("results/pico/c/seed0/round2/checkpoint") == "results/.scratch/pico/c/seed0/round2/checkpoint"
    assert scratch_dir("results/pico/c/seed0/round2/checkpoint", "/scratch/u/selftrain-ab") == \
        "/scratch/u/selftrain-ab/pico/c/seed0/round2/checkpoint"
    assert scratch_dir("/data/x/checkpoint") == "/data/x/.checkpoint.scratch"
    assert scratch_dir("/data/x/checkpoint", "/scratch") == "/scratch/data/x/checkpoint"


def test_scratch_root_expands_variables_at_run_time_and_names_an_unset_one(tmp_path, monkeypatch):
    import hashlib

    from selftrain.io import InputError
    from selftrain.resume_state import scratch_root

    assert scratch_root(None) == "results/.scratch"
    monkeypatch.setenv("SELFTRAIN_SCRATCH", str(tmp_path / "fast"))
    key = hashlib.sha256(str(tmp_path / "wd").encode()).hexdigest()[:12]
    expected = f"{tmp_path}/fast/jobs/selftrain-{key}"
    assert scratch_root("$SELFTRAIN_SCRATCH/jobs", tmp_path / "wd") == expected
    assert scratch_root("${SELFTRAIN_SCRATCH}/jobs", tmp_path / "wd") == expected
    # another working directory on the same scratch gets its own folder
    assert scratch_root("$SELFTRAIN_SCRATCH/jobs", tmp_path / "other") != expected
    monkeypatch.delenv("SELFTRAIN_SCRATCH")
    with pytest.raises(InputError, match=r"config key 'scratch_dir': environment variable SELFTRAIN_SCRATCH is not set "
                                         r"on this node \(scratch_dir is '\$SELFTRAIN_SCRATCH/jobs'\)"):
        scratch_root("$SELFTRAIN_SCRATCH/jobs")


def test_discarding_a_state_removes_empty_folders_up_to_the_root_only(tmp_path):
    from selftrain.resume_state import discard_resume_state, scratch_dir

    root = tmp_path / "user_scratch" / "selftrain-0123"
    states = [Path(scratch_dir(f"results/pico/c/seed0/round{r}/checkpoint", str(root))) for r in (1, 2)]
    for state in states:
        state.mkdir(parents=True)
        (state / "state.json").write_text("{}")
    discard_resume_state(states[0], str(root))
    # the other round's state (a parallel job) and its folders stay
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "pico", "pico/c", "pico/c/seed0", "pico/c/seed0/round2", "pico/c/seed0/round2/checkpoint",
        "pico/c/seed0/round2/checkpoint/state.json"]
    discard_resume_state(states[1], str(root))
    # our per-workdir folder goes, the user's scratch folder itself stays
    assert not root.exists() and (tmp_path / "user_scratch").is_dir()
