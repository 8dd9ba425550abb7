"""Filters: MinHash dedup and perplexity scoring throughput (documents/s) on 100k short documents; the
perplexity filter's batched scoring (the loop perplexity evaluation uses) vs one document at a time; the
quality and gopher heuristics' throughput; the detector's training + scoring time and how well it separates
held-out real text from machine text (a word-bigram chain's, a stand-in that needs no model)."""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import QUICK_ARCH, corpus_texts, report, tokenizer_and_model

# the embedded default's model (config.yaml): what the perplexity filter scores with in a default run
DEFAULT_ARCH = {"hidden_size": 128, "intermediate_size": 512, "num_layers": 2, "num_heads": 4,
                "max_position_embeddings": 512}


def short_documents(n: int) -> list[str]:
    """n short real documents: runs of 3 consecutive verse lines, starting at every line, so that
    neighbours overlap by two lines (near duplicates) and repeated lines give exact ones."""
    lines = [line.strip() for t in corpus_texts(10_000) for line in t.split("\n") if len(line.split()) >= 4]
    return [" ".join(lines[i:i + 3]) for i in range(min(n, len(lines) - 2))]


def bigram_chain_texts(texts: list[str], n: int, words: int, seed: int) -> list[str]:
    """n texts of `words` words from the word-bigram chain of texts, sampled at temperature 0.5 (follower
    weights squared): machine text without a model, overusing frequent pairs as low-temperature sampling
    does (at temperature 1 its bigram statistics would be the real text's, nothing a bigram detector sees)."""
    follow = defaultdict(Counter)
    for t in texts:
        w = t.split()
        for a, b in zip(w, w[1:]):
            follow[a][b] += 1
    rng, starts = random.Random(seed), sorted(follow)
    table = {a: (list(c), [k * k for k in c.values()]) for a, c in follow.items()}
    out = []
    for _ in range(n):
        w = [rng.choice(starts)]
        while len(w) < words:
            nxt = table.get(w[-1])
            w.append(rng.choices(nxt[0], nxt[1])[0] if nxt else rng.choice(starts))
        out.append(" ".join(w))
    return out


def heuristics(texts: list[str], tok) -> list[dict]:
    """documents/s of the heuristic filters that the field has reference rules for."""
    from selftrain.schema import plugin_spec
    from selftrain.filters import FILTERS

    docs = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    out = []
    for name in ("quality", "gopher"):
        f = FILTERS[name](plugin_spec("filter", {"name": name}), tok)  # the schema's defaults, as a job gets them
        f.keep(docs[:10])  # imports and tokenizer loading are not the rule's throughput
        t0 = time.perf_counter()
        kept = sum(f.keep(docs))
        s = time.perf_counter() - t0
        out.append(report(f"{name} filter on {len(docs):,} short documents", None, "report docs/s",
                          docs_per_s=len(docs) / s, seconds=s, kept=kept))
    return out


def detector(tok, quick: bool) -> dict:
    """Train the detector on held-in real text vs 3x as many chain texts, filter an even mix of unseen real
    windows and chain texts; the human share of what it keeps (keep_fraction 0.5) is its ranking accuracy."""
    from selftrain.filters import apply_filters

    real = corpus_texts(10_000)
    n_train_real = len(real) * 3 // 4
    n_machine, n_test = (300, 100) if quick else (3_000, 1_000)
    machine = bigram_chain_texts(real[:n_train_real], n_machine, 96, seed=1)
    rng = random.Random(2)
    human_test = []
    for t in real[n_train_real:] * 20:  # unseen scenes, random windows of a generation's length
        w = t.split()
        i = rng.randrange(max(1, len(w) - 96))
        human_test.append(" ".join(w[i : i + 96]))
    human_test = human_test[:n_test]
    test = human_test + bigram_chain_texts(real[:n_train_real], n_test, 96, seed=3)
    docs = [{"id": str(i), "text": t} for i, t in enumerate(test)]
    with tempfile.TemporaryDirectory() as d:
        context = {"real": Path(d) / "real.jsonl", "reference": Path(d) / "reference.jsonl"}
        context["real"].write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n"
                                           for i, t in enumerate(real[:n_train_real])))
        context["reference"].write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n"
                                                for i, t in enumerate(machine)))
        t0 = time.perf_counter()
        kept, stats = apply_filters(docs, [{"name": "detector", "keep_fraction": 0.5}], tok, "bench", context, seed=0)
        s = time.perf_counter() - t0
    details = stats["steps"][0]["details"]
    human_kept = sum(int(d["id"]) < n_test for d in kept) / len(kept)
    return report(f"detector on {n_train_real} real scenes vs {n_machine:,} machine texts, {len(docs):,} scored",
                  None, "report accuracy and docs/s", kept_human_share=f"{human_kept:.3f}", seconds=s,
                  docs_per_s=len(docs) / s, train=str(details["train_documents"]).replace(",", ";"),
                  heldout_accuracy=details.get("heldout_accuracy"))


def main(quick: bool) -> list[dict]:
    from selftrain.schema import plugin_spec
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
    return [*heuristics(texts, tok), detector(tok, quick),
            report(f"MinHash dedup on {len(docs):,} short documents", None, "report docs/s",
                   docs_per_s=len(docs) / dedup_s, seconds=dedup_s, kept=kept, **dedup.details),
            report(f"perplexity scoring on {len(docs):,} short documents", None, "report docs/s",
                   docs_per_s=len(docs) / score_s, tokens_per_s=n_tokens / score_s, seconds=score_s),
            report("perplexity scoring batched vs one document at a time", sub_single_s / sub_batched_s,
                   "batching reused", documents=len(sub), same_scores=same)]
