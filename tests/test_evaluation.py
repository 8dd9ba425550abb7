import math
import re

import pytest
import torch

from conftest import sample_docs
from selftrain.evaluation import eval_record, perplexity_block, perplexity_task, run_lm_eval
from selftrain.io import write_jsonl


def test_lm_eval_perplexity_matches_a_direct_computation(tmp_path, tiny_model, tiny_tokenizer):
    docs = sample_docs(6)
    write_jsonl(tmp_path / "heldout.jsonl", docs)
    results = run_lm_eval(tiny_model, tiny_tokenizer, [perplexity_task(tmp_path / "heldout.jsonl")], 4, None, 0)
    block = perplexity_block(results, "heldout_perplexity")

    # the same numbers by hand: each document scored after a leading EOS, its log-likelihood summed
    total_nll, words, nbytes = 0.0, 0, 0
    for d in docs:
        ids = [tiny_tokenizer.eos_token_id] + tiny_tokenizer(d["text"], add_special_tokens=False)["input_ids"]
        assert len(ids) <= 128  # one window
        with torch.no_grad():
            logits = tiny_model(torch.tensor([ids])).logits[0, :-1].double()
        total_nll -= torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None]).sum().item()
        words += len(re.split(r"\s+", d["text"]))
        nbytes += len(d["text"].encode())
    assert block["word_perplexity"] == pytest.approx(math.exp(total_nll / words), rel=1e-4)
    assert block["byte_perplexity"] == pytest.approx(math.exp(total_nll / nbytes), rel=1e-4)
    assert block["bits_per_byte"] == pytest.approx(total_nll / nbytes / math.log(2), rel=1e-4)
    assert block["documents"] == 6


def test_eval_record_schema():
    rec = eval_record({"model": "m", "condition": "c", "seed": 0, "round": 2},
                      {"heldout": {"word_perplexity": 1.0, "byte_perplexity": 1.0, "bits_per_byte": 0.0}})
    assert rec["schema_version"] == 1
    assert set(rec) == {"schema_version", "model", "condition", "seed", "round", "perplexity", "downstream", "lm_eval_version"}
