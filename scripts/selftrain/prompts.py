"""Prompting strategies: each turns a document index into prompt token ids, registered by name."""

from __future__ import annotations

import numpy as np

from .schema import plugin_class, plugin_keys


class PromptStrategy:
    """Interface: prompt_ids(j) gives the prompt (token ids, BOS first) of generated document j.

    Like filters and data regimes: `spec` is the strategy's config, its keys and defaults declared once in
    the schema ($defs.prompts.<name>) and filled by make_strategy; reads(spec) names the workflow inputs the
    strategy reads ("real": held-in real documents, "previous": the previous round's generated corpus), and
    `real_docs` holds those documents."""

    name = ""

    @classmethod
    def reads(cls, spec: dict) -> set[str]:
        return set()

    def __init__(self, spec: dict, tokenizer, real_docs: list[dict], seed: int):
        self.spec, self.tokenizer, self.seed = spec, tokenizer, seed

    def prompt_ids(self, j: int) -> list[int]:
        raise NotImplementedError


class Unconditional(PromptStrategy):
    """BOS only: the model writes from scratch."""

    name = "unconditional"

    def prompt_ids(self, j):
        return [self.tokenizer.bos_token_id]


class RealPrefix(PromptStrategy):
    """The first k tokens of held-in real documents, in a seeded order that cycles."""

    name = "real_prefix"

    @classmethod
    def reads(cls, spec):
        return {"real"}

    def __init__(self, spec, tokenizer, real_docs, seed):
        super().__init__(spec, tokenizer, real_docs, seed)
        if not real_docs:
            raise ValueError(f"prompt strategy {self.name} needs documents to take prefixes from")
        k = spec["prefix_tokens"]
        # only the head of each document is needed: cut before tokenizing
        heads = [d["text"][: 16 * k] for d in real_docs]
        ids = tokenizer(heads, add_special_tokens=False)["input_ids"]
        self.prefixes = [i[:k] for i in ids if len(i) >= 1]
        self.order = np.random.default_rng(seed).permutation(len(self.prefixes))

    def prompt_ids(self, j):
        return [self.tokenizer.bos_token_id] + self.prefixes[self.order[j % len(self.order)]]


class SelfPrefix(RealPrefix):
    """The first k tokens of the previous round's own generated documents (their continuations).

    Round 1 has no earlier generation: it uses the strategy named by first_round instead
    (strategy_for_round), unconditional by default so that no real text enters the prompts."""

    name = "self_prefix"

    @classmethod
    def reads(cls, spec):
        return {"previous"}


class Topic(PromptStrategy):
    """Templates filled from a topic list (Cosmopedia-style), every (template, topic) pair in a seeded
    order that cycles."""

    name = "topic"

    def __init__(self, spec, tokenizer, real_docs, seed):
        super().__init__(spec, tokenizer, real_docs, seed)
        texts = [t.format(topic=topic) for t in spec["templates"] for topic in spec["topics"]]
        self.ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        self.order = np.random.default_rng(seed).permutation(len(texts))

    def prompt_ids(self, j):
        return [self.tokenizer.bos_token_id] + self.ids[self.order[j % len(self.order)]]


STRATEGIES = {cls.name: cls for cls in (Unconditional, RealPrefix, Topic, SelfPrefix)}


def strategy_for_round(spec: dict, round_: int) -> dict:
    """The prompt spec in force at a round: self_prefix falls back to first_round in round 1, keeping only the
    keys that strategy declares (so the round-1 spec equals that strategy's own, and round 1 can be shared)."""
    if spec.get("strategy") == "self_prefix" and int(round_) == 1:
        first = spec.get("first_round", "unconditional")
        keys = plugin_keys("prompt", first)
        return {**{k: v for k, v in spec.items() if k in keys}, "strategy": first}
    return spec


def strategy_reads(spec: dict, round_: int) -> set[str]:
    """The inputs the generate step of a round reads for its prompts: {}, {"real"} or {"previous"}."""
    cls, spec = plugin_class("prompt", STRATEGIES, strategy_for_round(spec, round_))
    return cls.reads(spec)


def strategy_source(spec: dict, round_: int) -> str | None:
    """The one input of strategy_reads (None: the strategy reads no documents)."""
    return next(iter(strategy_reads(spec, round_)), None)


def make_strategy(spec: dict, tokenizer, real_docs: list[dict], seed: int) -> PromptStrategy:
    """The strategy a spec names (after strategy_for_round), its defaults filled from the schema."""
    cls, spec = plugin_class("prompt", STRATEGIES, spec)
    return cls(spec, tokenizer, real_docs, seed)
