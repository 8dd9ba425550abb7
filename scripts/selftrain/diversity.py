"""Diversity of a corpus of documents: distinct-n, self-BLEU, rep-n, entropy, compression, tail survival.

All metrics work on lowercased word tokens (words and single punctuation marks), so corpora made with
different tokenizers compare directly.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
import zlib
from collections import Counter

_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lowercased word tokens of a text: letter runs (with inner apostrophes), digit runs, punctuation."""
    return _TOKEN.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of one token list, in order."""
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def cap_words(docs: list[list[str]], max_words: int | None) -> list[list[str]]:
    """The documents in order up to max_words tokens in all (the last one cut); None keeps all."""
    if max_words is None:
        return list(docs)
    out, left = [], max_words
    for d in docs:
        if left <= 0:
            break
        out.append(d[:left])
        left -= len(out[-1])
    return out


def distinct_n(docs: list[list[str]], n: int) -> float:
    """Distinct n-grams over all n-grams of the corpus (n-grams never cross documents); 0 if none."""
    grams = [g for d in docs for g in ngrams(d, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def rep_n(docs: list[list[str]], n: int) -> float:
    """Mean over documents of the share of repeated n-grams, 1 - unique/total (Welleck et al. 2020)."""
    shares = [1 - len(set(g)) / len(g) for g in (ngrams(d, n) for d in docs) if g]
    return sum(shares) / len(shares) if shares else 0.0


def unigram_entropy(docs: list[list[str]]) -> float:
    """Shannon entropy, in bits, of the corpus's unigram distribution."""
    counts = Counter(t for d in docs for t in d)
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


def compression_ratio(texts: list[str]) -> float:
    """Bytes of the newline-joined texts over their zlib (level 9) size: higher means more repetitive."""
    raw = "\n".join(texts).encode("utf-8")
    return len(raw) / len(zlib.compress(raw, 9)) if raw else 0.0


def mean_length(docs: list[list[str]]) -> float:
    """Mean tokens per document (0 for no document)."""
    return sum(len(d) for d in docs) / len(docs) if docs else 0.0


def seeded_order(keys: list[str], seed: int) -> list[int]:
    """Indices ranked by a seeded hash of their keys: a fixed shuffle that ignores file order."""
    return sorted(range(len(keys)), key=lambda i: hashlib.sha256(f"{seed}\x1f{keys[i]}".encode()).hexdigest())


def sample_indices(keys: list[str], k: int, seed: int) -> list[int]:
    """k indices chosen by a seeded hash of their keys (a fixed sample), in file order."""
    return sorted(seeded_order(keys, seed)[:k])


def chunk_words(tokens: list[str], size: int | None) -> list[list[str]]:
    """Consecutive pieces of `size` tokens (the last may be shorter); None keeps the whole document."""
    if size is None:
        return [tokens]
    return [tokens[i:i + size] for i in range(0, len(tokens), size)]


def self_bleu(docs: list[list[str]], max_n: int = 4, epsilon: float = 0.1) -> float:
    """Mean sentence BLEU of each document against all the others as references (Zhu et al. 2018).

    Uniform weights over 1..max_n, clipped counts (max over references), brevity penalty against the
    closest reference length (the shorter on ties), zero matches smoothed to epsilon (NLTK's method1,
    as in Texygen). Fewer than two documents give 0.
    """
    docs = [d for d in docs if d]
    if len(docs) < 2:
        return 0.0
    # per n-gram, the two largest counts with their documents: the max over "all but me" is one of them
    top2 = []
    for n in range(1, max_n + 1):
        best: dict[tuple, list[tuple[int, int]]] = {}
        for j, d in enumerate(docs):
            for g, c in Counter(ngrams(d, n)).items():
                cur = best.setdefault(g, [])
                cur.append((c, j))
                cur.sort(reverse=True)
                del cur[2:]
        top2.append(best)
    lengths = sorted((len(d), j) for j, d in enumerate(docs))
    scores = []
    for i, d in enumerate(docs):
        log_p = 0.0
        for n in range(1, max_n + 1):
            counts = Counter(ngrams(d, n))
            matched = sum(min(c, next((rc for rc, j in top2[n - 1][g] if j != i), 0)) for g, c in counts.items())
            if n == 1 and matched == 0:  # no word in common: BLEU 0, as NLTK
                log_p = -math.inf
                break
            total = max(1, sum(counts.values()))
            log_p += math.log((matched or epsilon) / total) / max_n
        ref_len = _closest_length(lengths, len(d), i)
        bp = 1.0 if len(d) > ref_len else math.exp(1 - ref_len / len(d))
        scores.append(bp * math.exp(log_p))
    return sum(scores) / len(scores)


def _closest_length(lengths: list[tuple[int, int]], length: int, exclude: int) -> int:
    """The reference length closest to length among (length, doc) pairs other than doc `exclude`."""
    pos = bisect.bisect_left(lengths, (length, -1))
    near = [lengths[k][0] for k in range(max(0, pos - 2), min(len(lengths), pos + 2)) if lengths[k][1] != exclude]
    return min(near, key=lambda r: (abs(r - length), r))


def tail_vocabulary(counts: Counter, mass: float) -> list[str]:
    """The rarest word types of a real corpus whose counts add up to at most `mass` of its tokens.

    Types are taken rarest first (ties by the type itself), so the set is fixed by the corpus alone.
    """
    budget = mass * sum(counts.values())
    tail, used = [], 0
    for word, c in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        if used + c > budget:
            break
        tail.append(word)
        used += c
    return sorted(tail)


def corpus_diversity(texts: list[str], keys: list[str], tail: set[str], max_words: int | None,
                     self_bleu_documents: int, seed: int, chunk: int | None = None) -> dict:
    """Every diversity metric of one corpus (documents `texts` with ids `keys`): documents (or their `chunk`-word
    pieces) in a seeded order up to max_words words; self-BLEU on the first self_bleu_documents of them."""
    pieces = [(f"{k}#{i}", d) for k, t in zip(keys, texts) for i, d in enumerate(chunk_words(words(t), chunk)) if d]
    docs = cap_words([pieces[i][1] for i in seeded_order([k for k, _ in pieces], seed)], max_words)
    # compression is measured on the kept tokens, so a cut corpus is measured on what was kept
    kept_texts = [" ".join(d) for d in docs]
    present = {t for d in docs for t in d}
    n_words = sum(len(d) for d in docs)
    return {
        "documents": len(docs),
        "words": n_words,
        "distinct_1": distinct_n(docs, 1),
        "distinct_2": distinct_n(docs, 2),
        "distinct_3": distinct_n(docs, 3),
        "rep_2": rep_n(docs, 2),
        "rep_4": rep_n(docs, 4),
        "self_bleu": self_bleu(docs[:self_bleu_documents]),
        "unigram_entropy": unigram_entropy(docs),
        "compression_ratio": compression_ratio(kept_texts),
        "mean_length": mean_length(docs),
        "tail_survival": len(present & tail) / len(tail) if tail else 0.0,
        "tail_share": sum(1 for d in docs for t in d if t in tail) / n_words if n_words else 0.0,
    }


def diversity_record(corpora: dict[str, list[dict]], tail: list[str], cfg: dict, seed: int) -> dict:
    """{corpus name: metrics} for documents {id, text} per corpus, under the config's diversity section; the
    real reference is cut into real_chunk_words-word pieces, the size of a generated document."""
    return {name: corpus_diversity([d["text"] for d in docs], [d["id"] for d in docs], set(tail), cfg["max_words"],
                                   cfg["self_bleu_documents"], seed, cfg["real_chunk_words"] if name == "real" else None)
            for name, docs in corpora.items()}
