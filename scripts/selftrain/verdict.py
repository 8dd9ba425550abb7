"""The answer, computed: per condition and headline metric, the change from the first to the last round over
seeds, its 95% interval and a verdict (improved / no significant change / degraded).

Round 0 (the base model) is shared by every seed of a condition, so the change of seed s is its last-round
value minus its own round-0 value: paired by seed. Diversity starts at round 1, the first generated corpus
(round 0's diversity is that of real text, another corpus). Downstream tasks also carry their item-sampling
interval and minimum detectable change, so a reader sees whether a task could have shown the change at all.

Kernels differ between machines (another summation order in a matmul), and from the first sampled token that
differs every later round is another draw: another machine's interval bounds move. With a measured kernel
spread (scripts/kernel_spread.py: the same config under other thread counts), a verdict whose interval has a
bound within that spread of zero, so that another machine could flip it, is reported as unstable."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from .report import DOWNSTREAM_AVERAGE, mean_interval

VERDICT_COLUMNS = ("model", "condition", "measure", "set", "metric", "better", "from_round", "to_round", "n",
                   "start", "end", "change", "low", "high", "verdict", "kernel_spread", "items", "item_halfwidth",
                   "mdc")
IMPROVED, NO_CHANGE, DEGRADED, ONE_SEED = "improved", "no significant change", "degraded", "one seed: no interval"
UNSTABLE = "unstable"
# normal quantiles of a two-sided 5% test and 80% power (statistics.NormalDist().inv_cdf(0.975), (0.8))
Z_ALPHA, Z_POWER = 1.959963984540054, 0.8416212335729143


@dataclass(frozen=True)
class Headline:
    """A metric the verdict judges: where it is in summary.csv, which direction is better, its first round."""

    measure: str
    set: str
    metric: str
    better: str  # "lower" or "higher"
    from_round: int = 0


# diversity of the generated text: the direction that is better is away from collapse
DIVERSITY_HEADLINES = (("distinct_2", "higher"), ("self_bleu", "lower"), ("tail_survival", "higher"))


def headlines(rows: list[dict]) -> list[Headline]:
    """The headline metrics present in summary rows: bits per byte (and word perplexity, secondary) on every
    real set, accuracy of every downstream task and their average, and the headline diversity metrics."""
    have = {(r["measure"], r["set"], r["metric"]) for r in rows}
    sets = sorted({s for m, s, _ in have if m == "perplexity"}, key=lambda s: (s != "heldout", s))
    tasks = sorted({s for m, s, k in have if m == "downstream" and k == "acc"},
                   key=lambda s: (s != DOWNSTREAM_AVERAGE[0], s))
    out = [Headline("perplexity", s, k, "lower") for s in sets for k in ("bits_per_byte", "word_perplexity")
           if ("perplexity", s, k) in have]
    out += [Headline("downstream", t, "acc", "higher") for t in tasks]
    out += [Headline("diversity", "generated", k, b, 1) for k, b in DIVERSITY_HEADLINES
            if ("diversity", "generated", k) in have]
    return out


def judge(changes: list[float], better: str, spread: float | None = None) -> tuple[float, float, float, str]:
    """Mean change, its 95% t-interval over seeds and the verdict: the interval excludes zero on the better
    side (improved) or the worse side (degraded), or it does not (no significant change); one seed has none.
    With a kernel spread (how far another machine may move an interval bound): unstable when a bound lies
    within it of zero, since then another machine's interval could include zero, or exclude it."""
    mean, low, high = mean_interval(changes)
    if len(changes) < 2:
        return mean, low, high, ONE_SEED
    if spread is not None and min(abs(low), abs(high)) <= spread:
        return mean, low, high, UNSTABLE
    sign = -1.0 if better == "lower" else 1.0
    if low > 0 or high < 0:
        return mean, low, high, IMPROVED if sign * mean > 0 else DEGRADED
    return mean, low, high, NO_CHANGE


def spread_key(measure: str, set_name: str, metric: str) -> str:
    """How a headline metric is named in a kernel-spread file: measure/set/metric."""
    return f"{measure}/{set_name}/{metric}"


def interval_spreads(spread_file: dict | None) -> dict[str, float]:
    """{spread_key: the tolerance of an interval bound} of a kernel-spread file (scripts/kernel_spread.py)."""
    if not spread_file:
        return {}
    return {key: tol["interval_bounds"] for key, tol in spread_file["tolerances"].items()}


def item_precision(acc: float, items: int) -> tuple[float, float]:
    """Half-width of the 95% normal interval of an accuracy measured on `items` items, and the minimum change
    between two such accuracies that a two-sided 5% test detects with 80% power (independent items: a bound,
    since every round answers the same items and a paired change can be detected at less)."""
    var = acc * (1.0 - acc) / items
    return Z_ALPHA * math.sqrt(var), (Z_ALPHA + Z_POWER) * math.sqrt(2.0 * var)


def verdict_rows(rows: list[dict], items: dict[tuple[str, str], int] | None = None,
                 spreads: dict[str, float] | None = None) -> list[dict]:
    """One row per model x condition x headline metric: mean start and end over seeds, the mean paired change,
    its 95% interval and the verdict. items: {(model, task): item count} for the downstream columns; spreads:
    {spread_key: kernel spread of an interval bound} (interval_spreads), for the unstable class."""
    items, spreads = items or {}, spreads or {}
    value = {}
    for r in rows:
        value[(r["model"], r["condition"], r["measure"], r["set"], r["metric"], r["seed"], r["round"])] = r["value"]
    branches = defaultdict(set)
    for r in rows:
        branches[(r["model"], r["condition"])].add((r["seed"], r["round"]))
    out = []
    for (model, cond), points in sorted(branches.items()):
        last = max(rnd for _, rnd in points)
        seeds = sorted({s for s, _ in points})
        for h in headlines([r for r in rows if r["model"] == model and r["condition"] == cond]):
            if h.from_round >= last:
                continue
            key = (model, cond, h.measure, h.set, h.metric)
            pairs = [(value[(*key, s, h.from_round)], value[(*key, s, last)]) for s in seeds
                     if (*key, s, h.from_round) in value and (*key, s, last) in value]
            if not pairs:
                continue
            spread = spreads.get(spread_key(h.measure, h.set, h.metric))
            change, low, high, verdict = judge([b - a for a, b in pairs], h.better, spread)
            start = sum(a for a, _ in pairs) / len(pairs)
            n_items = items.get((model, h.set)) if h.measure == "downstream" else None
            half, mdc = item_precision(start, n_items) if n_items else (math.nan, math.nan)
            out.append({"model": model, "condition": cond, "measure": h.measure, "set": h.set, "metric": h.metric,
                        "better": h.better, "from_round": h.from_round, "to_round": last, "n": len(pairs),
                        "start": start, "end": sum(b for _, b in pairs) / len(pairs), "change": change,
                        "low": low, "high": high, "verdict": verdict,
                        "kernel_spread": math.nan if spread is None else spread, "items": n_items or "",
                        "item_halfwidth": half, "mdc": mdc})
    return out


def task_items(base_evals: dict[str, dict]) -> dict[tuple[str, str], int]:
    """{(model, task): item count} from round-0 eval.json files (every round answers the same items)."""
    return {(model, t): int(m["items"]) for model, ev in base_evals.items()
            for t, m in ev.get("downstream", {}).items() if m.get("items")}


def read_verdict(path) -> list[dict]:
    """verdict.csv back as rows (numbers as floats, empty cells as NaN)."""
    import csv

    def num(v):
        return math.nan if v == "" else float(v)

    with open(path, newline="") as f:
        return [{**r, **{k: num(r[k]) for k in ("change", "low", "high", "start", "end", "kernel_spread", "mdc",
                                                "item_halfwidth") if k in r}} for r in csv.DictReader(f)]
