"""Perplexity evaluation through lm-eval: batched rolling windows vs one document at a time."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import BENCH_ARCH, QUICK_ARCH, corpus_texts, report, tokenizer_and_model


def main(quick: bool) -> list[dict]:
    from selftrain.evaluation import perplexity_block, perplexity_task, run_lm_eval
    from selftrain.io import write_jsonl

    arch, vocab = (QUICK_ARCH, 1024) if quick else (BENCH_ARCH, 8192)
    texts = corpus_texts(40 if quick else 400)
    tok, model = tokenizer_and_model(arch, vocab, texts[:30])
    # short documents (a speech or two), as held-out sets of real text mostly are
    docs = [{"id": str(i), "text": p} for i, p in enumerate(p for t in texts[30:] for p in t.split("\n\n") if len(p) > 80)]
    docs = docs[: 30 if quick else 2000]
    n_tokens = sum(len(tok(d["text"])["input_ids"]) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heldout.jsonl"
        write_jsonl(path, docs)
        task = [perplexity_task(path)]
        times, values = {}, {}
        for bs in (1, 32):
            t0 = time.perf_counter()
            values[bs] = perplexity_block(run_lm_eval(model, tok, task, bs, None, 0), "heldout_perplexity")
            times[bs] = time.perf_counter() - t0
    same = abs(values[1]["word_perplexity"] / values[32]["word_perplexity"] - 1) < 1e-3
    return [report("perplexity eval tokens/s batched vs one document at a time", times[1] / times[32], ">= 4x",
                   batched_tokens_per_s=n_tokens / times[32], single_tokens_per_s=n_tokens / times[1],
                   documents=len(docs), same_perplexity=same)]
