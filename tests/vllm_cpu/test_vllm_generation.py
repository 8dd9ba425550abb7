"""generation.backend vllm on vLLM's CPU build: the project's sampler, its seeds and budget, in-process and in
a real Snakemake generate job."""

from pathlib import Path

from conftest import sample_docs
from selftrain.generation import derive_seed, generate_corpus, select_backend, vllm_device, vllm_sampler
from selftrain.prompts import make_strategy

ROOT = Path(__file__).resolve().parents[2]
SAMPLING = {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 24}
BUDGET = 700


class Recorder:
    """A vllm.LLM that keeps the SamplingParams of every generate() call (the engine still does the work)."""

    def __init__(self, llm):
        self.llm, self.params = llm, []

    def generate(self, prompts, params, **kwargs):
        self.params.extend(params)
        return self.llm.generate(prompts, params, **kwargs)


def corpus(llm, tokenizer, seed, batch_size=16, strategy=None):
    strategy = strategy or make_strategy({"strategy": "unconditional"}, tokenizer, [], seed)
    return generate_corpus(vllm_sampler(llm, SAMPLING, seed), tokenizer, strategy, BUDGET, SAMPLING, batch_size,
                           "round1", log=lambda *a: None)


def test_an_explicit_vllm_backend_runs_on_the_cpu_build_and_auto_keeps_hf():
    assert vllm_device() == "cpu"
    assert select_backend("vllm") == "vllm"
    assert select_backend("vllm", "evaluation.backend") == "vllm"
    assert select_backend("auto") == "hf"  # no GPU: the fast hf generator stays the CPU default


def test_vllm_fills_the_budget_exactly_with_one_seed_and_max_tokens_per_document(engine, tiny_tokenizer):
    llm = Recorder(engine.model)
    docs = corpus(llm, tiny_tokenizer, seed=5)
    lengths = [d["meta"]["n_tokens"] for d in docs]
    assert sum(lengths) == BUDGET
    assert all(0 < n <= SAMPLING["max_new_tokens"] for n in lengths)
    # a random tiny model rarely samples EOS: most documents run to max_tokens, the last one is cut
    assert lengths.count(SAMPLING["max_new_tokens"]) >= len(docs) // 2
    # one request per prompt, each with its own seed derived from the prompt's index, and explicit max_tokens
    assert {p.max_tokens for p in llm.params} == {SAMPLING["max_new_tokens"]}
    assert [p.seed for p in llm.params] == [derive_seed(5, "document", i) for i in range(len(llm.params))]
    assert len({p.seed for p in llm.params}) == len(llm.params) >= len(docs)


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another(engine, tiny_tokenizer):
    first = corpus(engine.model, tiny_tokenizer, seed=5)
    assert corpus(engine.model, tiny_tokenizer, seed=5) == first
    other = corpus(engine.model, tiny_tokenizer, seed=6)
    assert [d["text"] for d in other] != [d["text"] for d in first]


class RaggedPrefix:
    """Real-text prompts of 1 to 5 tokens after BOS, so that generate_corpus reorders each batch by length."""

    def __init__(self, tokenizer):
        self.bos, self.ids = tokenizer.bos_token_id, tokenizer([d["text"] for d in sample_docs()])["input_ids"]

    def prompt_ids(self, j):
        return [self.bos] + self.ids[j % len(self.ids)][: 1 + j % 5]


def test_a_document_does_not_depend_on_its_batch(engine, tiny_tokenizer):
    """Seeds follow prompt indices, not places in a length-sorted batch, so batches of 16 and of 5 give the
    same documents. Measured exact on this CPU build in fp32; vLLM itself promises reproducibility only on the
    same hardware and version, and by default not across batch compositions (docs.vllm.ai usage/reproducibility;
    VLLM_BATCH_INVARIANT=1 on NVIDIA GPUs of compute capability 8.0+ in 0.32.0, features/batch_invariance)."""
    strategy = RaggedPrefix(tiny_tokenizer)
    big = corpus(engine.model, tiny_tokenizer, 3, batch_size=16, strategy=strategy)
    small = corpus(engine.model, tiny_tokenizer, 3, batch_size=5, strategy=strategy)
    key = lambda docs: [(d["meta"]["prompt_index"], d["prompt"], d["text"]) for d in docs]  # noqa: E731
    assert key(big) == key(small)


def test_greedy_continuations_match_transformers_within_what_vllm_promises(engine, vllm_checkpoint, tiny_tokenizer):
    """vLLM's greedy continuations against transformers' on the same checkpoint and prompts, the way vLLM's own
    tests compare them (tests/models/utils.py check_logprobs_close): token for token, and at the first token
    that differs each side's token must be among the other's 5 most likely, after which the two continuations
    are different texts and the comparison stops. Neither side stops at EOS, so both run 24 tokens."""
    import torch
    from vllm import SamplingParams

    from selftrain.modeling import load_checkpoint

    model, _ = load_checkpoint(vllm_checkpoint)
    texts = [d["text"] for d in sample_docs(6)]
    prompts = [[tiny_tokenizer.bos_token_id] + ids[: 3 + i] for i, ids in
               enumerate(tiny_tokenizer(texts, add_special_tokens=False)["input_ids"])]
    k, new = 5, 24
    params = SamplingParams(temperature=0.0, max_tokens=new, logprobs=k, ignore_eos=True, seed=0)
    outs = engine.model.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
    matched = 0
    for prompt, out in zip(prompts, outs):
        vllm_ids, vllm_top = list(out.outputs[0].token_ids), out.outputs[0].logprobs
        assert len(vllm_ids) == new
        ids, hf_ids, hf_top = list(prompt), [], []
        with torch.inference_mode():
            for _ in range(new):
                logp = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].double(), -1)
                hf_top.append(set(logp.topk(k).indices.tolist()))
                ids.append(int(logp.argmax()))
                hf_ids.append(ids[-1])
        for i, (h, v) in enumerate(zip(hf_ids, vllm_ids)):
            if h != v:
                assert h in vllm_top[i] and v in hf_top[i], (prompt, i, h, v)
                break
            matched += 1
    # and most of it agrees: the same weights in fp32 gave 144 of 144 identical tokens here (2026-12-06); an engine
    # on other weights (planted: a checkpoint of another seed) fails at the first token of the first prompt
    print(f"greedy: {matched} of {len(prompts) * new} tokens identical before a first divergence")
    assert matched >= len(prompts) * new // 2, f"only {matched} of {len(prompts) * new} greedy tokens agree"
