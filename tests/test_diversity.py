import math
import zlib
from collections import Counter

import pytest

from selftrain.diversity import (cap_words, compression_ratio, corpus_diversity, distinct_n, rep_n, seeded_order,
                                 self_bleu, tail_vocabulary, unigram_entropy, words)

DOCS = [["a", "b", "a", "b"], ["a", "c"]]


def test_words_lowercases_and_splits_punctuation():
    assert words("Don't STOP, 2 cats!") == ["don't", "stop", ",", "2", "cats", "!"]


def test_distinct_rep_and_entropy_by_hand():
    # unigrams a b a b a c: 3 types / 6; bigrams ab ba ab ac: 3 / 4; trigrams aba bab: 2 / 2
    assert (distinct_n(DOCS, 1), distinct_n(DOCS, 2), distinct_n(DOCS, 3)) == (0.5, 0.75, 1.0)
    assert distinct_n([["a"]], 2) == 0.0
    # doc 1: 3 bigrams, 2 distinct -> 1/3 repeated; doc 2: 1 bigram -> 0; mean 1/6
    assert rep_n(DOCS, 2) == pytest.approx(1 / 6)
    # p = (3/6, 2/6, 1/6)
    assert unigram_entropy(DOCS) == pytest.approx(0.5 + (1 / 3) * math.log2(3) + (1 / 6) * math.log2(6))
    assert unigram_entropy([["x", "x"]]) == 0.0


def test_compression_ratio_is_raw_over_zlib_size():
    texts = ["to be or not to be"] * 20
    raw = "\n".join(texts).encode()
    assert compression_ratio(texts) == len(raw) / len(zlib.compress(raw, 9))
    assert compression_ratio(texts) > 5 > compression_ratio(["to be or not to be"])


def test_self_bleu_by_hand():
    # two documents, BLEU-2: unigram precision 2/3, bigram 1/2, equal lengths -> sqrt(1/3)
    assert self_bleu([["a", "b", "c"], ["a", "b", "d"]], max_n=2) == pytest.approx(1 / math.sqrt(3))
    # BLEU-1 with clipping and brevity penalty:
    # [a a b]: a clipped to 2 (max over refs 3), b unmatched -> 2/3; closest ref length 2 (tie 2/4) -> bp 1
    # [a c]: 2/2; closest ref length 3 -> bp exp(1 - 3/2)
    # [a a a c]: a clipped to 2 (max over the others), c 1 -> 3/4; closest 3 -> bp 1
    docs = [["a", "a", "b"], ["a", "c"], ["a", "a", "a", "c"]]
    assert self_bleu(docs, max_n=1) == pytest.approx((2 / 3 + math.exp(-0.5) + 3 / 4) / 3)
    # no bigram in common: smoothed to 0.1 / 1 -> sqrt(1 * 0.1)
    assert self_bleu([["a", "b"], ["b", "a"]], max_n=2) == pytest.approx(math.sqrt(0.1))
    assert self_bleu([["a"], ["b"]]) == 0.0 and self_bleu([["a", "b"]]) == 0.0


def test_self_bleu_agrees_with_nltk():
    from nltk.translate import bleu_score as nltk_bleu  # pinned in requirements.txt: this test never skips
    docs = [words(t) for t in ("the cat sat on the mat", "the dog sat on a log today", "a cat and a dog",
                               "on the mat the cat slept", "dogs and cats sat")]
    smooth = nltk_bleu.SmoothingFunction().method1
    expected = sum(nltk_bleu.sentence_bleu(docs[:i] + docs[i + 1:], d, smoothing_function=smooth)
                   for i, d in enumerate(docs)) / len(docs)
    assert self_bleu(docs) == pytest.approx(expected, rel=1e-12)


def test_tail_vocabulary_takes_the_rarest_types_up_to_the_mass():
    counts = Counter({"the": 5, "a": 3, "d": 2, "c": 1, "b": 1})  # 12 tokens, budget 3
    assert tail_vocabulary(counts, 0.25) == ["b", "c"]
    assert tail_vocabulary(counts, 0.5) == ["b", "c", "d"]
    assert tail_vocabulary(counts, 0.0) == []


def test_cap_words_cuts_the_last_document():
    assert cap_words([["a", "b"], ["c", "d", "e"], ["f"]], 4) == [["a", "b"], ["c", "d"]]
    assert cap_words([["a"]], None) == [["a"]]


def test_corpus_diversity_record():
    texts = ["The cat sat.", "", "A cat, a dog!", "the end"]
    rec = corpus_diversity(texts, ["k0", "k1", "k2", "k3"], tail={"dog", "sat", "owl"}, max_words=None,
                           self_bleu_documents=10, seed=0)
    # tokens: [the cat sat .] [a cat , a dog !] [the end]; the empty text is dropped
    assert (rec["documents"], rec["words"], rec["mean_length"]) == (3, 12, 4.0)
    assert rec["distinct_1"] == 9 / 12  # the cat sat . a , dog ! end
    assert rec["tail_survival"] == 2 / 3 and rec["tail_share"] == 2 / 12
    assert rec["self_bleu"] == pytest.approx(self_bleu([words(t) for t in texts if t]))
    assert set(rec) == {"documents", "words", "distinct_1", "distinct_2", "distinct_3", "rep_2", "rep_4",
                        "self_bleu", "unigram_entropy", "compression_ratio", "mean_length", "tail_survival",
                        "tail_share"}


def test_corpus_diversity_chunks_then_caps_in_a_seeded_order():
    rec = corpus_diversity(["a b c d e f g"], ["k"], tail=set(), max_words=5, self_bleu_documents=2, seed=1, chunk=2)
    pieces = [["a", "b"], ["c", "d"], ["e", "f"], ["g"]]
    kept = cap_words([pieces[i] for i in seeded_order(["k#0", "k#1", "k#2", "k#3"], 1)], 5)
    assert sum(len(d) for d in kept) == 5 and (rec["documents"], rec["words"]) == (len(kept), 5)
    assert rec["distinct_1"] == 1.0 and rec["mean_length"] == 5 / len(kept)
    assert rec["self_bleu"] == self_bleu(kept[:2])
    assert seeded_order(["x", "y", "z"], 1) == seeded_order(["x", "y", "z"], 1) != seeded_order(["x", "y", "z"], 2)
