"""Filters of a generated corpus: small classes with one interface, applied in order."""

from __future__ import annotations


class EmptyCorpusError(RuntimeError):
    """A filter chain (or a generator) left no document to train on."""


class DocumentFilter:
    """Interface: keep(docs) -> one bool per document; params() -> thresholds for filter_stats.json."""

    name = ""

    def __init__(self, spec: dict, tokenizer):
        self.spec, self.tokenizer = spec, tokenizer

    def keep(self, docs: list[dict]) -> list[bool]:
        raise NotImplementedError

    def params(self) -> dict:
        return {k: v for k, v in self.spec.items() if k != "name"}


class NoFilter(DocumentFilter):
    """Keep everything."""

    name = "none"

    def keep(self, docs):
        return [True] * len(docs)


class MinLength(DocumentFilter):
    """Drop documents shorter than min_tokens tokens (as generated)."""

    name = "min_length"

    def keep(self, docs):
        k = self.spec.get("min_tokens", 1)
        return [d["meta"]["n_tokens"] >= k if "n_tokens" in d.get("meta", {}) else
                len(self.tokenizer(d["text"], add_special_tokens=False)["input_ids"]) >= k for d in docs]


FILTERS = {cls.name: cls for cls in (NoFilter, MinLength)}


def apply_filters(docs: list[dict], specs: list[dict], tokenizer, where: str) -> tuple[list[dict], dict]:
    """Run the filter chain; returns (kept documents, stats). An emptied corpus is an error naming `where`."""
    stats = {"input_documents": len(docs), "steps": []}
    for spec in specs or [{"name": "none"}]:
        if spec["name"] not in FILTERS:
            raise ValueError(f"{where}: unknown filter {spec['name']!r} (one of {sorted(FILTERS)})")
        f = FILTERS[spec["name"]](spec, tokenizer)
        mask = f.keep(docs)
        kept = [d for d, k in zip(docs, mask) if k]
        stats["steps"].append({"name": f.name, "params": f.params(), "input": len(docs),
                               "kept": len(kept), "removed": len(docs) - len(kept)})
        docs = kept
    stats["output_documents"] = len(docs)
    if not docs:
        raise EmptyCorpusError(f"{where}: the filters {[s['name'] for s in specs]} removed every document")
    return docs, stats
