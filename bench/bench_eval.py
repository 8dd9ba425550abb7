"""Perplexity evaluation through lm-eval: our length-sorted windows (SortedRollingHFLM, batch 32)
vs lm-eval's HFLM one document at a time; lm-eval's own batch-32 HFLM for context."""

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
        for name, bs, ours in (("one_doc", 1, False), ("lm_eval_batched", 32, False), ("ours", 32, True)):
            t0 = time.perf_counter()
            values[name] = perplexity_block(run_lm_eval(model, tok, task, bs, None, 0, sorted_rolling=ours),
                                            "heldout_perplexity")
            times[name] = time.perf_counter() - t0
    same = all(abs(v["word_perplexity"] / values["one_doc"]["word_perplexity"] - 1) < 1e-4 for v in values.values())
    return [report("perplexity eval tokens/s ours (sorted, batched) vs one document at a time",
                   times["one_doc"] / times["ours"], ">= 4x",
                   ours_tokens_per_s=n_tokens / times["ours"], single_tokens_per_s=n_tokens / times["one_doc"],
                   lm_eval_batch32_tokens_per_s=n_tokens / times["lm_eval_batched"],
                   documents=len(docs), same_perplexity=same)]
