"""Data regimes: which documents the model of round r is trained on."""

from __future__ import annotations


class DataRegime:
    """Interface: documents(synthetic_rounds, real) -> training documents.

    synthetic_rounds holds the filtered corpora of the rounds the regime asked for (needs_rounds),
    oldest first; real holds the held-in real documents when needs_real is set."""

    name = ""
    needs_real = False

    def __init__(self, spec: dict, seed: int):
        self.spec, self.seed = spec, seed

    def needs_rounds(self, round_: int) -> list[int]:
        return [round_]

    def documents(self, synthetic_rounds: list[list[dict]], real: list[dict]) -> list[dict]:
        raise NotImplementedError


class Replace(DataRegime):
    """Only this round's filtered synthetic corpus (naive recursion)."""

    name = "replace"

    def documents(self, synthetic_rounds, real):
        return list(synthetic_rounds[-1])


REGIMES = {cls.name: cls for cls in (Replace,)}


def make_regime(spec: dict, seed: int) -> DataRegime:
    name = spec.get("regime", "replace")
    if name not in REGIMES:
        raise ValueError(f"data.regime: unknown regime {name!r} (one of {sorted(REGIMES)})")
    return REGIMES[name](spec, seed)
