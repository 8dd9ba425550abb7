"""Prompting strategies: each turns a document index into prompt token ids, registered by name."""

from __future__ import annotations

import numpy as np


class PromptStrategy:
    """Interface: prompt_ids(j) gives the prompt (token ids, BOS first) of generated document j."""

    name = ""

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

    def __init__(self, spec, tokenizer, real_docs, seed):
        super().__init__(spec, tokenizer, real_docs, seed)
        if not real_docs:
            raise ValueError("prompt strategy real_prefix needs real documents")
        k = spec.get("prefix_tokens", 16)
        # only the head of each document is needed: cut before tokenizing
        heads = [d["text"][: 16 * k] for d in real_docs]
        ids = tokenizer(heads, add_special_tokens=False)["input_ids"]
        self.prefixes = [i[:k] for i in ids if len(i) >= 1]
        self.order = np.random.default_rng(seed).permutation(len(self.prefixes))

    def prompt_ids(self, j):
        return [self.tokenizer.bos_token_id] + self.prefixes[self.order[j % len(self.order)]]


STRATEGIES = {cls.name: cls for cls in (Unconditional, RealPrefix)}


def make_strategy(spec: dict, tokenizer, real_docs: list[dict], seed: int) -> PromptStrategy:
    name = spec.get("strategy")
    if name not in STRATEGIES:
        raise ValueError(f"prompt.strategy: unknown strategy {name!r} (one of {sorted(STRATEGIES)})")
    return STRATEGIES[name](spec, tokenizer, real_docs, seed)
