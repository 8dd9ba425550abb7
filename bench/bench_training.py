"""Training: packed fixed-length blocks vs padded per-document batches; MFU; stable across rounds."""

from __future__ import annotations

import math
import os
import shutil
import time

import numpy as np

from common import BENCH_ARCH, QUICK_ARCH, corpus_texts, matmul_params, matmul_peak, report, tokenizer_and_model


def padded_baseline(model, tok, docs_ids, block, batch, steps):
    """One document per row, cut at `block`, padded to the batch's longest; returns (tokens/s, real-token share)."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    real = seen = 0
    t0 = time.perf_counter()
    for s in range(steps):
        rows = [d[:block] for d in docs_ids[s * batch:(s + 1) * batch]]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        real += int(mask.sum())
        seen += ids.numel()
    return real / (time.perf_counter() - t0), real / seen


def main(quick: bool) -> list[dict]:
    from selftrain.training import pack_blocks, tokenize_documents, train_causal_lm

    arch, vocab = (QUICK_ARCH, 1024) if quick else (BENCH_ARCH, 8192)
    texts = corpus_texts(30 if quick else 400)
    tok, model = tokenizer_and_model(arch, vocab, texts)
    # documents of the length a round's generations have: paragraphs of the plays
    paras = [p for t in texts for p in t.split("\n\n") if p.strip()]
    docs_ids = tokenize_documents(tok, paras)
    block, batch, steps = 256, 16, (2 if quick else 30)
    pad_tps, pad_share = padded_baseline(model, tok, docs_ids, block, batch, steps)

    blocks = pack_blocks(docs_ids, block, tok.eos_token_id)
    packed_share = 1.0  # every position of a packed block is a real token (EOS separators included)
    cfg = {"epochs": 1, "max_steps": steps, "batch_size": batch, "lr": 1e-4, "warmup_steps": 1}
    rates = []
    for r in range(1 if quick else 3):  # three consecutive "rounds" of continual training
        t0 = time.perf_counter()
        stats = train_causal_lm(model, blocks, cfg, seed=r, log=lambda *a: None)
        rates.append(stats["tokens_seen"] / (time.perf_counter() - t0))
    # training.compile: the same loop with the forward compiled (warm-up call first: compilation is per job)
    compiled_rate = compile_s = None
    if shutil.which(os.environ.get("CXX", "g++")):
        t0 = time.perf_counter()
        train_causal_lm(model, blocks, dict(cfg, max_steps=2, compile=True), seed=0, log=lambda *a: None)
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        stats = train_causal_lm(model, blocks, dict(cfg, compile=True), seed=0, log=lambda *a: None)
        compiled_rate = stats["tokens_seen"] / (time.perf_counter() - t0)
    peak = matmul_peak()
    flops = 6 * matmul_params(model) * rates[-1]
    compiled = {"skipped": "no C++ compiler for torch inductor"} if compiled_rate is None else {
        "share_percent": 100 * 6 * matmul_params(model) * compiled_rate / peak,
        "vs_eager": compiled_rate / rates[-1], "warmup_compile_s": compile_s}
    return [report("training tokens/s packed vs padded per-document", rates[0] / pad_tps, ">= 1.5x",
                   packed_tokens_per_s=rates[0], padded_real_tokens_per_s=pad_tps),
            report("training non-padding token share", None, ">= 99%",
                   packed_percent=100 * packed_share, padded_percent=100 * pad_share,
                   dropped_tail_tokens=int(sum(len(d) + 1 for d in docs_ids) - blocks.size)),
            report("training matmul FLOP/s share of fp32 peak", None, ">= 70%",
                   share_percent=100 * flops / peak, gflops=flops / 1e9, peak_gflops=peak / 1e9),
            report("training matmul FLOP/s share of fp32 peak, training.compile", None, ">= 70%", **compiled),
            report("training throughput last round vs first", rates[-1] / rates[0], "~1.0x (no slow-down)",
                   per_round_tokens_per_s=" ".join(f"{x:.0f}" for x in rates))]
