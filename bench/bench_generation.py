"""Generation: our batched static-cache sampler vs a per-sample model.generate loop, same prompts and budget."""

from __future__ import annotations

import time

from common import BENCH_ARCH, QUICK_ARCH, corpus_texts, matmul_params, matmul_peak, report, tokenizer_and_model


def per_sample_generate(model, tok, strategy, budget, sampling):
    """The peers' way: one model.generate call per document until the budget is filled."""
    import torch

    from selftrain.generation import hf_generate_kwargs

    total, j = 0, 0
    while total < budget:
        ids = torch.tensor([strategy.prompt_ids(j)])
        torch.manual_seed(j)
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=sampling["max_new_tokens"],
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **hf_generate_kwargs(sampling))
        cont = out[0, ids.shape[1]:].tolist()
        if tok.eos_token_id in cont:
            cont = cont[: cont.index(tok.eos_token_id)]
        total += min(len(cont), budget - total)
        j += 1
    return total


def main(quick: bool) -> list[dict]:
    from selftrain.generation import generate_corpus, hf_sampler
    from selftrain.prompts import make_strategy

    arch, vocab = (QUICK_ARCH, 1024) if quick else (BENCH_ARCH, 8192)
    tok, model = tokenizer_and_model(arch, vocab, corpus_texts(30 if quick else 300))
    sampling = {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 128}
    strategy = make_strategy({"strategy": "unconditional"}, tok, [], 0)
    base_budget, budget = (200, 1000) if quick else (3000, 60000)

    t0 = time.perf_counter()
    n_base = per_sample_generate(model, tok, strategy, base_budget, sampling)
    base_tps = n_base / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    docs = generate_corpus(hf_sampler(model, tok, sampling, 0), tok, strategy, budget, sampling, 256, "bench",
                           log=lambda *a: None)
    ours_tps = sum(d["meta"]["n_tokens"] for d in docs) / (time.perf_counter() - t0)
    peak = matmul_peak()
    # forward FLOPs per generated token: 2 per matmul parameter (attention over <=128 positions is small)
    flops = 2 * matmul_params(model) * ours_tps
    return [report("generation tokens/s vs per-sample generate", ours_tps / base_tps, ">= 20x",
                   ours_tokens_per_s=ours_tps, per_sample_tokens_per_s=base_tps),
            report("generation FLOP/s share of fp32 matmul peak", None, ">= 50%",
                   share_percent=100 * flops / peak, gflops=flops / 1e9, peak_gflops=peak / 1e9)]
