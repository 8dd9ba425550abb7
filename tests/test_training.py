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


def test_training_without_a_full_block_is_an_error(tiny_model):
    with pytest.raises(ValueError, match="block_size"):
        train_causal_lm(tiny_model, np.zeros((0, 32), dtype=np.int64), {"epochs": 1, "batch_size": 1, "lr": 1e-3}, 0)
