"""Prompting strategies: each turns a document index into prompt token ids, registered by name."""

from __future__ import annotations

import numpy as np


class PromptStrategy:
    """Interface: prompt_ids(j) gives the prompt (token ids, BOS first) of generated document j.

    `real_docs` holds the documents the strategy draws prompts from: held-in real documents for
    real_prefix, the previous round's generated corpus for self_prefix (see strategy_for_round)."""

    name = ""
    source = None  # which documents the strategy reads: None, "real" or "previous"

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
    source = "real"

    def __init__(self, spec, tokenizer, real_docs, seed):
        super().__init__(spec, tokenizer, real_docs, seed)
        if not real_docs:
            raise ValueError(f"prompt strategy {self.name} needs documents to take prefixes from")
        k = spec.get("prefix_tokens", 16)
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
    source = "previous"


# Cosmopedia-style seed prompts: templates crossed with a topic list
DEFAULT_TEMPLATES = ["{topic}"]
DEFAULT_TOPICS = ["love", "war", "the king", "the sea", "a letter", "the night", "honour", "a feast"]


class Topic(PromptStrategy):
    """Templates filled from a topic list (Cosmopedia-style), every (template, topic) pair in a seeded
    order that cycles."""

    name = "topic"

    def __init__(self, spec, tokenizer, real_docs, seed):
        super().__init__(spec, tokenizer, real_docs, seed)
        templates = spec.get("templates") or DEFAULT_TEMPLATES
        topics = spec.get("topics") or DEFAULT_TOPICS
        texts = [t.format(topic=topic) for t in templates for topic in topics]
        self.ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        self.order = np.random.default_rng(seed).permutation(len(texts))

    def prompt_ids(self, j):
        return [self.tokenizer.bos_token_id] + self.ids[self.order[j % len(self.order)]]


STRATEGIES = {cls.name: cls for cls in (Unconditional, RealPrefix, Topic, SelfPrefix)}


def strategy_for_round(spec: dict, round_: int) -> dict:
    """The prompt spec in force at a round: self_prefix falls back to first_round in round 1."""
    if spec.get("strategy") == "self_prefix" and int(round_) == 1:
        return {**spec, "strategy": spec.get("first_round", "unconditional")}
    return spec


def strategy_source(spec: dict, round_: int) -> str | None:
    """Which documents the generate step of a round reads: None, "real" or "previous"."""
    name = strategy_for_round(spec, round_).get("strategy")
    if name not in STRATEGIES:
        raise ValueError(f"prompt.strategy: unknown strategy {name!r} (one of {sorted(STRATEGIES)})")
    return STRATEGIES[name].source


def make_strategy(spec: dict, tokenizer, real_docs: list[dict], seed: int) -> PromptStrategy:
    """The strategy a spec names (after strategy_for_round), reading prompts from real_docs."""
    name = spec.get("strategy")
    if name not in STRATEGIES:
        raise ValueError(f"prompt.strategy: unknown strategy {name!r} (one of {sorted(STRATEGIES)})")
    return STRATEGIES[name](spec, tokenizer, real_docs, seed)
