import pytest

from conftest import sample_docs
import torch

from selftrain.generation import (generate_corpus, hf_generate_kwargs, hf_sampler, pick_tokens, sample_continuations,
                                  select_backend, vllm_sampling_kwargs)
from selftrain.prompts import make_strategy

SAMPLING = {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 16, "min_new_tokens": 1}


def run(model, tok, strategy="unconditional", budget=100, seed=3, batch_size=4, sampling=SAMPLING):
    # prefix_tokens is a key of the prefix strategies only (unknown to unconditional)
    spec = {"strategy": strategy, **({"prefix_tokens": 4} if strategy.endswith("prefix") else {})}
    s = make_strategy(spec, tok, sample_docs(), seed)
    return generate_corpus(hf_sampler(model, tok, sampling, seed), tok, s, budget, sampling, batch_size, "round1",
                           log=lambda *a: None)


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
    assert hf_generate_kwargs({})["top_k"] == 0  # pure sampling, not the library's default top-50
    assert vllm_sampling_kwargs({"temperature": 0.7, "top_p": 0.9, "top_k": 0, "max_new_tokens": 64}, 11) == {
        "n": 1, "temperature": 0.7, "top_p": 0.9, "top_k": -1, "max_tokens": 64, "seed": 11}
    assert vllm_sampling_kwargs({"method": "greedy", "max_new_tokens": 8}, 1)["temperature"] == 0.0


def test_unknown_strategy_is_an_error(tiny_tokenizer):
    with pytest.raises(ValueError, match="prompt.strategy"):
        make_strategy({"strategy": "telepathy"}, tiny_tokenizer, [], 0)


def test_static_cache_sampler_matches_transformers_generate_greedy(tiny_model, tiny_tokenizer):
    """Left padding, per-row positions, the static cache and dropping finished rows change nothing."""
    texts = ["Now, fair Hippolyta", "Four", "And then the moon, like to a silver bow", "Of our"]
    prompts = [[tiny_tokenizer.bos_token_id] + tiny_tokenizer(t)["input_ids"] for t in texts]
    ours = sample_continuations(tiny_model, prompts, 12, tiny_tokenizer.eos_token_id, tiny_tokenizer.pad_token_id,
                                {"method": "greedy"}, seed=0, compact_at=1.0)
    for p, o in zip(prompts, ours):
        ref = tiny_model.generate(input_ids=torch.tensor([p]), do_sample=False, max_new_tokens=12,
                                  pad_token_id=tiny_tokenizer.pad_token_id)[0, len(p):].tolist()
        if tiny_tokenizer.eos_token_id in ref:
            ref = ref[: ref.index(tiny_tokenizer.eos_token_id)]
        assert o == ref


def test_pick_tokens_samples_the_filtered_distribution():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(20000, 1)
    gen = torch.Generator().manual_seed(0)
    counts = torch.bincount(pick_tokens(logits, {"temperature": 1.0}, gen), minlength=4) / 20000
    assert torch.allclose(counts, torch.tensor([0.5, 0.3, 0.15, 0.05]), atol=0.01)
    counts = torch.bincount(pick_tokens(logits, {"top_k": 2}, gen), minlength=4) / 20000
    assert torch.allclose(counts, torch.tensor([0.625, 0.375, 0.0, 0.0]), atol=0.01)
    counts = torch.bincount(pick_tokens(logits, {"top_p": 0.85}, gen), minlength=4) / 20000
    assert torch.allclose(counts, torch.tensor([0.5, 0.3, 0.15, 0.0]) / 0.95, atol=0.01)
    hot = torch.bincount(pick_tokens(logits, {"temperature": 2.0}, gen), minlength=4) / 20000
    expected = torch.softmax(logits[0] / 2.0, -1)
    assert torch.allclose(hot, expected, atol=0.01)
    assert pick_tokens(logits[:3], {"method": "greedy"}, gen).tolist() == [0, 0, 0]


def test_backend_selection_on_a_cpu_machine():
    assert select_backend("hf") == "hf"
    assert select_backend("auto") == "hf"  # no GPU here (and vLLM is not installed)
    with pytest.raises(RuntimeError, match="generation.backend 'vllm' needs the vllm package and a visible GPU"):
        select_backend("vllm")
