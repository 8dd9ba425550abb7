import pytest

from conftest import sample_docs
from selftrain.generation import generate_corpus, hf_generate_kwargs, vllm_sampling_kwargs
from selftrain.prompts import make_strategy

SAMPLING = {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 16, "min_new_tokens": 1}


def run(model, tok, strategy="unconditional", budget=100, seed=3, batch_size=4, sampling=SAMPLING):
    s = make_strategy({"strategy": strategy, "prefix_tokens": 4}, tok, sample_docs(), seed)
    return generate_corpus(model, tok, s, budget, sampling, batch_size, seed, "round1", log=lambda *a: None)


def test_budget_is_filled_exactly(tiny_model, tiny_tokenizer):
    docs = run(tiny_model, tiny_tokenizer, budget=101)
    assert sum(d["meta"]["n_tokens"] for d in docs) == 101
    assert all(1 <= d["meta"]["n_tokens"] <= 16 for d in docs)
    assert [d["id"] for d in docs[:2]] == ["round1-000000", "round1-000001"]
    assert all(set(d) == {"id", "text", "prompt", "meta"} for d in docs)


def test_same_seed_same_corpus_other_seed_other_corpus(tiny_model, tiny_tokenizer):
    a = run(tiny_model, tiny_tokenizer, seed=3)
    assert a == run(tiny_model, tiny_tokenizer, seed=3)
    assert a != run(tiny_model, tiny_tokenizer, seed=4)


def test_real_prefix_prompts_are_real_document_heads(tiny_model, tiny_tokenizer):
    docs = run(tiny_model, tiny_tokenizer, strategy="real_prefix", budget=40)
    heads = {d["text"][:10] for d in sample_docs()}
    assert all(d["prompt"] and any(h.startswith(d["prompt"][:5]) for h in heads) for d in docs)
    assert all(len(tiny_tokenizer(d["prompt"], add_special_tokens=False)["input_ids"]) == 4 for d in docs)


def test_greedy_is_batch_independent(tiny_model, tiny_tokenizer):
    greedy = dict(SAMPLING, method="greedy")
    a = run(tiny_model, tiny_tokenizer, strategy="real_prefix", budget=60, batch_size=2, sampling=greedy)
    b = run(tiny_model, tiny_tokenizer, strategy="real_prefix", budget=60, batch_size=5, sampling=greedy)
    assert [d["text"] for d in a] == [d["text"] for d in b]


def test_sampling_argument_builders():
    assert hf_generate_kwargs({"method": "greedy"}) == {"do_sample": False}
    assert hf_generate_kwargs({"temperature": 0.7, "top_k": 50, "top_p": 0.9}) == {
        "do_sample": True, "temperature": 0.7, "top_k": 50, "top_p": 0.9}
    assert vllm_sampling_kwargs({"temperature": 0.7, "top_p": 0.9, "top_k": 0, "max_new_tokens": 64}, 11) == {
        "n": 1, "temperature": 0.7, "top_p": 0.9, "top_k": -1, "max_tokens": 64, "seed": 11}
    assert vllm_sampling_kwargs({"method": "greedy", "max_new_tokens": 8}, 1)["temperature"] == 0.0


def test_unknown_strategy_is_an_error(tiny_tokenizer):
    with pytest.raises(ValueError, match="prompt.strategy"):
        make_strategy({"strategy": "telepathy"}, tiny_tokenizer, [], 0)
