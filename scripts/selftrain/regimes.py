"""Data regimes: which documents the model of round r is trained on."""

from __future__ import annotations

import hashlib

import numpy as np

from .schema import plugin_class
from .seeds import derive_seed


def word_count(doc: dict) -> int:
    """Default document size: whitespace words (the train step passes a tokenizer-based count)."""
    return len(doc["text"].split())


class DataRegime:
    """Interface: documents(synthetic_rounds, real) -> training documents.

    synthetic_rounds holds the filtered corpora of the rounds the regime asked for (needs_rounds),
    oldest first; real holds the held-in real documents when needs_real is set. Budgets are counted
    with size(doc) (tokens in the train step).

    Like prompting strategies and filters: `spec` is the regime's config, its keys and defaults declared once
    in the schema ($defs.regimes.<name>) and filled by make_regime; reads(spec) names the workflow inputs it
    reads besides the synthetic rounds ("real"). Both class methods: the workflow asks them without a seed."""

    name = ""
    needs_real = False

    @classmethod
    def reads(cls, spec: dict) -> set[str]:
        return {"real"} if cls.needs_real else set()

    def __init__(self, spec: dict, seed: int, size=word_count):
        self.spec, self.seed, self.size = spec, seed, size

    @classmethod
    def needs_rounds(cls, round_: int) -> list[int]:
        return [round_]

    @classmethod
    def job_spec(cls, spec: dict, tokens_per_round: int) -> dict:
        """The spec a train job reads, given the budget a generated round has (tokens_per_round)."""
        return spec

    def documents(self, synthetic_rounds: list[list[dict]], real: list[dict]) -> list[dict]:
        raise NotImplementedError

    def real_pool(self, real: list[dict]) -> list[dict]:
        """The real documents the regime may use: all, or real_tokens of them chosen by a hash of their
        id, so that every round (and every condition) sees the same real subset."""
        budget = self.spec["real_tokens"]
        if not budget:
            return list(real)
        ranked = sorted(real, key=lambda d: hashlib.sha256(d["id"].encode()).hexdigest())
        chosen, total = [], 0
        for doc in ranked:
            if total >= budget:
                break
            n = self.size(doc)
            if total + n > budget:
                doc, n = {**doc, "text": doc["text"][: max(1, round(len(doc["text"]) * (budget - total) / n))]}, budget - total
            chosen.append(doc)
            total += n
        return chosen

    def draw(self, pool: list[dict], budget: int, salt: str) -> list[dict]:
        """Documents of pool in a seeded order until their size reaches budget, returned in pool order;
        the last one is cut to the remaining budget by its share of characters. A pool too small for
        the budget is an error."""
        order = np.random.default_rng(derive_seed(self.seed, salt)).permutation(len(pool))
        chosen, total = {}, 0
        for i in order:
            if total >= budget:
                break
            doc, n = pool[i], self.size(pool[i])
            if total + n > budget:
                doc = {**doc, "text": doc["text"][: max(1, round(len(doc["text"]) * (budget - total) / n))]}
                n = budget - total
            chosen[int(i)] = doc
            total += n
        if total < budget:
            raise ValueError(f"data regime {self.name}: {len(pool)} {salt} documents ({total} tokens) "
                             f"cannot fill a budget of {budget} tokens")
        return [chosen[i] for i in sorted(chosen)]


class Replace(DataRegime):
    """Only this round's filtered synthetic corpus (naive recursion)."""

    name = "replace"

    def documents(self, synthetic_rounds, real):
        return list(synthetic_rounds[-1])


class Accumulate(DataRegime):
    """All real documents plus the filtered synthetic corpora of every round so far (Gerstgrasser et al.)."""

    name = "accumulate"
    needs_real = True

    @classmethod
    def needs_rounds(cls, round_):
        return list(range(1, round_ + 1))

    def documents(self, synthetic_rounds, real):
        return self.real_pool(real) + [d for corpus in synthetic_rounds for d in corpus]


class Mix(DataRegime):
    """This round's synthetic corpus mixed with real documents at a fixed real share of the tokens
    (Shumailov et al.); the total stays the size of this round's synthetic corpus."""

    name = "mix"
    needs_real = True

    def documents(self, synthetic_rounds, real):
        synthetic = synthetic_rounds[-1]
        total = sum(self.size(d) for d in synthetic)
        share = self.spec["real_fraction"]
        return (self.draw(self.real_pool(real), round(share * total), "real")
                + self.draw(list(synthetic), round((1 - share) * total), "synthetic"))


class AccumulateSubsample(Accumulate):
    """A fixed budget drawn from the accumulated pool (real + every round so far; Kazdan et al.):
    budget_tokens, or the size of this round's synthetic corpus when unset."""

    name = "accumulate_subsample"

    def documents(self, synthetic_rounds, real):
        pool = super().documents(synthetic_rounds, real)
        budget = self.spec["budget_tokens"] or sum(self.size(d) for d in synthetic_rounds[-1])
        return self.draw(pool, budget, "pool")


class Real(DataRegime):
    """Real held-in documents only, budget_tokens of them drawn afresh each round: the real-data control, the
    same continual-training recipe with no generated text, so that no generate or filter job runs for it."""

    name = "real"
    needs_real = True

    @classmethod
    def needs_rounds(cls, round_):
        return []

    @classmethod
    def job_spec(cls, spec, tokens_per_round):
        """budget_tokens null: the budget of a generated round (the model's tokens_per_round), filled in the
        job's params, so that the control trains on as many tokens as a condition that generates."""
        return spec if spec["budget_tokens"] else {**spec, "budget_tokens": tokens_per_round}

    def documents(self, synthetic_rounds, real):
        return self.draw(list(real), self.spec["budget_tokens"], "real")


REGIMES = {cls.name: cls for cls in (Replace, Accumulate, Mix, AccumulateSubsample, Real)}


def generates(data_spec: dict) -> bool:
    """Whether a condition with this data spec trains on generated text (so its rounds generate and filter)."""
    return bool(regime_class(data_spec).needs_rounds(1))


def regime_class(spec: dict) -> type[DataRegime]:
    """The registered class a data spec names (checked against its keys in the schema)."""
    return plugin_class("data", REGIMES, spec)[0]


def make_regime(spec: dict, seed: int, size=word_count) -> DataRegime:
    """The regime a data spec names, its defaults filled from the schema."""
    cls, spec = plugin_class("data", REGIMES, spec)
    return cls(spec, seed, size)


def composition(docs: list[dict], synthetic_rounds: dict[int, list[dict]], real: list[dict]) -> dict:
    """How many training documents come from the real corpus and from each round's synthetic corpus."""
    source = {d["id"]: "real" for d in real}
    for r, corpus in synthetic_rounds.items():
        source.update({d["id"]: f"round{r}" for d in corpus})
    counts: dict[str, int] = {}
    for d in docs:
        counts[source[d["id"]]] = counts.get(source[d["id"]], 0) + 1
    return dict(sorted(counts.items()))
