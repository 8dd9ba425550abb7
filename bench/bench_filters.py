"""Filters: MinHash dedup and perplexity scoring throughput (documents/s) on 100k short documents; the
perplexity filter's batched scoring (the loop perplexity evaluation uses) vs one document at a time."""

from __future__ import annotations

import time

from common import QUICK_ARCH, corpus_texts, report, tokenizer_and_model

# the embedded default's model (config.yaml): what the perplexity filter scores with in a default run
DEFAULT_ARCH = {"hidden_size": 128, "intermediate_size": 512, "num_layers": 2, "num_heads": 4,
                "max_position_embeddings": 512}


def short_documents(n: int) -> list[str]:
    """n short real documents: runs of 3 consecutive verse lines, starting at every line, so that
    neighbours overlap by two lines (near duplicates) and repeated lines give exact ones."""
    lines = [line.strip() for t in corpus_texts(10_000) for line in t.split("\n") if len(line.split()) >= 4]
    return [" ".join(lines[i:i + 3]) for i in range(min(n, len(lines) - 2))]


def main(quick: bool) -> list[dict]:
    from selftrain.config import plugin_spec
    from selftrain.filters import Dedup, document_perplexities

    n = 2_000 if quick else 100_000
    texts = short_documents(n)
    docs = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    arch, vocab = (QUICK_ARCH, 1024) if quick else (DEFAULT_ARCH, 4096)
    tok, model = tokenizer_and_model(arch, vocab, corpus_texts(30))
    n_tokens = sum(len(x) for x in tok(texts, add_special_tokens=False)["input_ids"])

    dedup = Dedup(plugin_spec("filter", {"name": "dedup"}), tok)  # its defaults from the schema
    t0 = time.perf_counter()
    kept = sum(dedup.keep(docs))
    dedup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    document_perplexities(model, tok, texts, batch_size=32, max_tokens=256)
    score_s = time.perf_counter() - t0
    # the ratio on one subset: the filter's batching vs a document at a time
    sub = texts[: 200 if quick else 3_000]
    t0 = time.perf_counter()
    batched = document_perplexities(model, tok, sub, batch_size=32, max_tokens=256)
    sub_batched_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [document_perplexities(model, tok, [t], batch_size=1, max_tokens=256)[0] for t in sub]
    sub_single_s = time.perf_counter() - t0
    same = all(abs(a / b - 1) < 1e-4 for a, b in zip(batched, single))
    return [report(f"MinHash dedup on {len(docs):,} short documents", None, "report docs/s",
                   docs_per_s=len(docs) / dedup_s, seconds=dedup_s, kept=kept, **dedup.details),
            report(f"perplexity scoring on {len(docs):,} short documents", None, "report docs/s",
                   docs_per_s=len(docs) / score_s, tokens_per_s=n_tokens / score_s, seconds=score_s),
            report("perplexity scoring batched vs one document at a time", sub_single_s / sub_batched_s,
                   "batching reused", documents=len(sub), same_scores=same)]
