"""Filters of a generated corpus: small classes with one interface, applied in order."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import numpy as np

from .schema import plugin_class


class EmptyCorpusError(RuntimeError):
    """A filter chain (or a generator) left no document to train on."""


class DocumentFilter:
    """Interface: keep(docs) -> one bool per document; params() -> thresholds for filter_stats.json.

    Like prompting strategies and data regimes: `spec` is the filter's config, its keys and defaults declared
    once in the schema ($defs.filters.<name>) and filled by apply_filters. `context` maps what a filter may
    read to file paths: "model" (round r-1's checkpoint), "base" (the round-0 checkpoint), "real" (held-in
    real documents), "reference" (round 1's generated corpus); reads(spec) names the ones a filter reads, so
    the workflow makes them inputs. keep() may fill self.details (measured thresholds, per-reason counts) for
    filter_stats.json. A named scorer's checkpoint is the context entry "scorer:<name of models>".
    trust_remote_code: whether a checkpoint's own model code may run (models.<model>.base.trust_remote_code),
    one flag for every checkpoint or {context entry: flag}."""

    name = ""

    def __init__(self, spec: dict, tokenizer, context: dict | None = None, seed: int = 0,
                 trust_remote_code: bool | dict = False):
        self.spec, self.tokenizer, self.context, self.seed = spec, tokenizer, context or {}, seed
        self.trust_remote_code = trust_remote_code
        self.details: dict = {}

    @classmethod
    def reads(cls, spec: dict) -> set[str]:
        return set()

    def trusts(self, entry: str) -> bool:
        """Whether the checkpoint of a context entry may run its own model code."""
        t = self.trust_remote_code
        return bool(t.get(entry, False) if isinstance(t, dict) else t)

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
        k = self.spec["min_tokens"]
        return [d["meta"]["n_tokens"] >= k if "n_tokens" in d.get("meta", {}) else
                len(self.tokenizer(d["text"], add_special_tokens=False)["input_ids"]) >= k for d in docs]


def band_mask(scores: list[float], keep_fraction: float, band: str) -> tuple[list[bool], dict]:
    """Keep ceil(keep_fraction * n) documents by rank of score (ties by position): the lowest, the
    highest or the middle ones; returns the mask and the kept score range."""
    n = len(scores)
    n_keep = min(n, math.ceil(keep_fraction * n))
    ranked = sorted(range(n), key=lambda i: (scores[i], i))
    start = {"lowest": 0, "highest": n - n_keep, "middle": (n - n_keep) // 2}[band]
    chosen = set(ranked[start : start + n_keep])
    kept = [scores[i] for i in sorted(chosen)]
    details = {"kept_min": round(min(kept), 6), "kept_max": round(max(kept), 6)} if kept else {}
    return [i in chosen for i in range(n)], details


def scorer_entry(scorer: str) -> str:
    """The context entry of a perplexity scorer: round r-1's model (current), the base model (base), or the
    round-0 checkpoint of a name of models ("scorer:<name>")."""
    return {"current": "model", "base": "base"}.get(scorer, f"scorer:{scorer}")


class PerplexityBand(DocumentFilter):
    """Score each document's perplexity under the current (round r-1) model, the base model or an external
    scorer (a name of models: its round-0 checkpoint) and keep a quantile band of keep_fraction: the lowest, the
    highest or the middle perplexities."""

    name = "perplexity"

    @classmethod
    def reads(cls, spec):
        return {scorer_entry(spec["scorer"])}

    def keep(self, docs):
        import torch

        from .modeling import load_checkpoint

        entry = scorer_entry(self.spec["scorer"])
        path = self.context[entry]
        gpu = torch.cuda.is_available()
        model, tok = load_checkpoint(path, device="cuda" if gpu else "cpu", dtype=torch.bfloat16 if gpu else None,
                                     trust_remote_code=self.trusts(entry))
        scores = document_perplexities(model, tok, [d["text"] for d in docs],
                                       self.spec["batch_size"], self.spec["max_tokens"])
        mask, self.details = band_mask(scores, self.spec["keep_fraction"], self.spec["band"])
        self.details["scored_median"] = round(float(np.median(scores)), 6) if scores else None
        self.details["scored_by"] = str(path)  # which weights judged: the checkpoint's path (its hash: the record)
        return mask


def document_perplexities(model, tokenizer, texts: list[str], batch_size: int, max_tokens: int) -> list[float]:
    """exp(mean token NLL) of each text after BOS (first max_tokens tokens), scored in length-sorted batches
    (the loop perplexity evaluation uses); an empty text gives 1."""
    import math

    from .scoring import window_loglikelihoods

    ids = [[tokenizer.bos_token_id] + t[: max_tokens] for t in
           tokenizer(texts, add_special_tokens=False)["input_ids"]]
    scored = [i for i, x in enumerate(ids) if len(x) > 1]
    lls = window_loglikelihoods(model, [(ids[i][:-1], ids[i][1:]) for i in scored],
                                batch_size, model.device)
    out = [1.0] * len(ids)
    for i, ll in zip(scored, lls):
        out[i] = math.exp(-ll / (len(ids[i]) - 1))
    return out


def rule_mask(rules, docs: list[dict]) -> tuple[list[bool], dict]:
    """Apply a rule set's failure(text) to each document: the mask and the removals counted by rule."""
    reasons = [rules.failure(d["text"]) for d in docs]
    return [r is None for r in reasons], {"removed_by": dict(sorted(Counter(r for r in reasons if r).items()))}


class Quality(DocumentFilter):
    """A subset of Gopher's rules, measured by datatrove (selftrain.gopher): word count, '#' and ellipsis
    ratio, alphabetic words, duplicate lines, top and duplicated n-gram character shares; each threshold
    configurable, removals counted by rule."""

    name = "quality"

    def keep(self, docs):
        from .gopher import quality_rules

        mask, self.details = rule_mask(quality_rules(self.spec), docs)
        return mask


class Gopher(DocumentFilter):
    """All of Gopher's quality and repetition rules at the paper's thresholds (datatrove's filters); any
    threshold replaceable under `rules` by its datatrove keyword."""

    name = "gopher"

    def keep(self, docs):
        from .gopher import GopherRules

        mask, self.details = rule_mask(GopherRules("gopher", **self.spec["rules"]), docs)
        return mask


def _shingles(text: str, n: int) -> set[bytes]:
    words = text.lower().split()
    if len(words) <= n:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


class Dedup(DocumentFilter):
    """Exact duplicates (normalised text) and MinHash near-duplicates (datasketch LSH over word
    n-gram shingles): the first document of each group is kept."""

    name = "dedup"

    def keep(self, docs):
        from datasketch import MinHash, MinHashLSH

        threshold, num_perm, n = self.spec["threshold"], self.spec["num_perm"], self.spec["shingle_words"]
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        seen, signatures, mask, exact, near = set(), {}, [], 0, 0
        for i, d in enumerate(docs):
            key = hashlib.sha256(" ".join(d["text"].lower().split()).encode()).hexdigest()
            if key in seen:
                exact += 1
                mask.append(False)
                continue
            seen.add(key)
            m = MinHash(num_perm=num_perm, seed=1)  # a fixed seed: the same text, the same signature
            m.update_batch(sorted(_shingles(d["text"], n)))
            # LSH gives candidates; the estimated Jaccard similarity decides
            if any(m.jaccard(signatures[k]) >= threshold for k in lsh.query(m)):
                near += 1
                mask.append(False)
                continue
            lsh.insert(i, m)
            signatures[i] = m
            mask.append(True)
        self.details = {"exact_duplicates": exact, "near_duplicates": near}
        return mask


class Detector(DocumentFilter):
    """A machine-text detector (Drayson-style): scikit-learn logistic regression on hashed word n-grams
    (selftrain.detector), trained on held-in real text (label human) against as many of round 1's
    generated documents (label machine); keeps the keep_fraction of documents it scores most human-like
    and reports its held-out accuracy."""

    name = "detector"

    @classmethod
    def reads(cls, spec):
        return {"real", "reference"}

    def keep(self, docs):
        from .detector import MachineTextDetector
        from .io import read_jsonl

        machine = [d["text"] for d in read_jsonl(self.context["reference"])]
        real = read_jsonl(self.context["real"])
        rng = np.random.default_rng(self.seed)
        # balanced classes (as many real as machine examples, both capped), else the classifier learns the prior
        n_human = min(len(real), len(machine), self.spec["max_train_documents"])
        pick = sorted(rng.permutation(len(real))[:n_human])
        # a random window of each real document, as long as a typical generation: length is no cue,
        # and document heads (titles, stage directions) are not over-represented
        width = int(np.median([len(t) for t in machine])) if machine else 0
        starts = [int(rng.integers(0, max(1, len(real[i]["text"]) - width))) for i in pick]
        human = [real[i]["text"][s : s + width] for i, s in zip(pick, starts)]
        machine_sample = [machine[i] for i in sorted(rng.permutation(len(machine))[:n_human])]
        detector = MachineTextDetector(self.spec["features"], self.spec["C"], self.seed)
        fit = detector.fit(human, machine_sample)
        p_human = detector.p_human([d["text"] for d in docs])
        mask, band = band_mask([float(p) for p in p_human], self.spec["keep_fraction"], "highest")
        self.details = {"train_documents": {"human": len(human), "machine": len(machine_sample)}, **fit,
                        "human_probability_kept_min": band.get("kept_min"),
                        "human_probability_mean": round(float(p_human.mean()), 6) if len(docs) else None}
        return mask


FILTERS = {cls.name: cls for cls in (NoFilter, MinLength, PerplexityBand, Quality, Gopher, Dedup, Detector)}


def filter_needs(specs: list[dict]) -> set[str]:
    """The context entries (model, base, real, reference, scorer:<name>) a filter chain reads."""
    needs = set()
    for spec in specs or []:
        cls, spec = plugin_class("filter", FILTERS, spec)
        needs |= cls.reads(spec)
    return needs


def apply_filters(docs: list[dict], specs: list[dict], tokenizer, where: str, context: dict | None = None,
                  seed: int = 0, trust_remote_code: bool | dict = False) -> tuple[list[dict], dict]:
    """Run the filter chain; returns (kept documents, stats). An emptied corpus is an error naming `where`."""
    stats = {"input_documents": len(docs), "steps": []}
    for spec in specs or [{"name": "none"}]:
        cls, spec = plugin_class("filter", FILTERS, spec)
        f = cls(spec, tokenizer, context, seed, trust_remote_code)
        mask = f.keep(docs) if docs else []
        kept = [d for d, k in zip(docs, mask) if k]
        step = {"name": f.name, "params": f.params(), "input": len(docs), "kept": len(kept),
                "removed": len(docs) - len(kept)}
        if f.details:
            step["details"] = f.details
        stats["steps"].append(step)
        docs = kept
    stats["output_documents"] = len(docs)
    if not docs:
        raise EmptyCorpusError(f"{where}: the filters {[s['name'] for s in specs]} removed every document")
    return docs, stats
