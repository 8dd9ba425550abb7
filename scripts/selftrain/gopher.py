"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models", appendix A.1.1 and
Table A1) as datatrove 0.10.1 implements them, called per document without datatrove's executor, so a
corpus filtered here is comparable with FineWeb's and other datatrove-filtered corpora."""

from __future__ import annotations

import inspect
from functools import lru_cache


def _datatrove():
    # imported late: spaCy's English tokenizer (datatrove's word split) costs seconds to import
    from datatrove.data import Document
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    return Document, GopherQualityFilter, GopherRepetitionFilter


@lru_cache(maxsize=1)
def rule_keys() -> dict[str, set[str]]:
    """The keyword arguments of datatrove's two Gopher filters (their defaults are the paper's thresholds)."""
    _, quality, repetition = _datatrove()
    skip = {"self", "exclusion_writer", "language"}
    return {cls.__name__: set(inspect.signature(cls.__init__).parameters) - skip for cls in (quality, repetition)}


class GopherRules:
    """Both datatrove Gopher filters with the paper's thresholds, each replaceable by a keyword argument of
    either filter (e.g. min_doc_words=20; None or 0 switches a rule off, as in datatrove)."""

    def __init__(self, where: str = "gopher", **overrides):
        keys = rule_keys()
        unknown = sorted(set(overrides) - set().union(*keys.values()))
        if unknown:
            raise ValueError(f"{where}: unknown Gopher rule {unknown} (datatrove's keys: "
                             f"{', '.join(sorted(set().union(*keys.values())))})")
        self.document, quality, repetition = _datatrove()
        self.filters = [cls(**{k: v for k, v in overrides.items() if k in keys[cls.__name__]})
                        for cls in (quality, repetition)]

    def failure(self, text: str) -> str | None:
        """datatrove's reason for the first rule the text breaks (quality rules first), None if it passes."""
        if not text.strip():
            # datatrove divides by the word count: an empty text would raise instead of failing
            return "empty"
        doc = self.document(text=text, id="")
        for f in self.filters:
            result = f.filter(doc)
            if result is not True:
                return result[1] if isinstance(result, tuple) else "rejected"
        return None


def quality_rules(t: dict) -> GopherRules:
    """The `quality` filter's rules: a subset of Gopher's (word count, '#' and ellipsis ratio, alphabetic
    words, duplicate lines, top and duplicated n-gram character shares) under our keys, measured by
    datatrove; the other Gopher rules are off."""
    return GopherRules(
        "quality",
        min_doc_words=t["min_words"], max_doc_words=t["max_words"], max_symbol_word_ratio=t["max_symbol_ratio"],
        max_non_alpha_words_ratio=t["min_alpha_word_fraction"], dup_line_frac=t["max_duplicate_line_fraction"],
        top_n_grams=tuple(sorted((int(n), v) for n, v in t["max_top_ngram_fraction"].items())),
        dup_n_grams=tuple(sorted((int(n), v) for n, v in t["max_duplicate_ngram_fraction"].items())),
        min_avg_word_length=None, max_avg_word_length=None, max_bullet_lines_ratio=None,
        max_ellipsis_lines_ratio=None, min_stop_words=None,
        dup_para_frac=None, dup_para_char_frac=None, dup_line_char_frac=None)
