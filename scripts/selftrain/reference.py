"""Agreement of a run with a recorded reference run, within stated tolerances per metric.

Bytes are identical only where the floating-point kernels are (same CPU kind, same torch build): another
machine's matmul sums in another order, round 0's perplexity moves in its last digits, and from the first
sampled token that differs each round's generated text, and everything trained on it, is another draw.
So round 0 is held to a tight tolerance, and a later round's mean over seeds to that tolerance plus the
reference's own 95% seed interval: the spread a second set of draws is expected to show."""

from __future__ import annotations

import csv
import json
import math

from .io import atomic_write_text
from .verdict import headlines

# per metric: absolute tolerance, or relative ("rel") for metrics that scale (perplexities, lengths)
TOLERANCES = {
    "bits_per_byte": {"abs": 0.01}, "word_perplexity": {"rel": 0.03}, "acc": {"abs": 0.01},
    "distinct_2": {"abs": 0.01}, "self_bleu": {"abs": 0.01}, "tail_survival": {"abs": 0.01},
}
KEY = ("model", "condition", "round", "measure", "set", "metric")


def read_intervals(path) -> list[dict]:
    """summary_ci.csv as rows with int round and float n/mean/low/high (empty cells NaN)."""
    def num(v):
        return math.nan if v == "" else float(v)

    with open(path, newline="") as f:
        return [{**r, "round": int(r["round"]), **{k: num(r[k]) for k in ("n", "mean", "low", "high")}}
                for r in csv.DictReader(f)]


def reference_rows(intervals: list[dict]) -> list[dict]:
    """The headline metrics of summary_ci.csv at each condition's first judged round and its last round:
    key, mean and the 95% half-width over seeds (0 when there is one seed)."""
    heads = {(h.measure, h.set, h.metric): h.from_round for h in headlines(intervals)}
    last = {}
    for r in intervals:
        last[(r["model"], r["condition"])] = max(last.get((r["model"], r["condition"]), 0), r["round"])
    out = []
    for r in intervals:
        first = heads.get((r["measure"], r["set"], r["metric"]))
        if first is None or r["round"] not in (first, last[(r["model"], r["condition"])]):
            continue
        half = 0.0 if math.isnan(r["high"]) else (r["high"] - r["low"]) / 2
        out.append({**{k: r[k] for k in KEY}, "mean": r["mean"], "halfwidth": half})
    return out


def write_reference(path, intervals: list[dict], measured: str) -> None:
    """Record a run's headline numbers (and where and when they were measured) as a reference JSON."""
    doc = {"measured": measured, "tolerances": TOLERANCES, "rows": reference_rows(intervals)}
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def allowed(row: dict, tolerances: dict) -> float:
    """The largest difference a rerun may show for a reference row."""
    tol = tolerances[row["metric"]]
    base = tol["abs"] if "abs" in tol else tol["rel"] * abs(row["mean"])
    return base + (row["halfwidth"] if row["round"] > 0 else 0.0)


def compare(reference: dict, intervals: list[dict]) -> list[str]:
    """One line per reference row (ok / DIFFERS / MISSING) against a run's summary_ci.csv rows."""
    have = {tuple(r[k] for k in KEY): r["mean"] for r in intervals}
    lines = []
    for row in reference["rows"]:
        key = tuple(row[k] for k in KEY)
        name = " ".join(str(k) for k in key)
        if key not in have:
            lines.append(f"MISSING {name}")
            continue
        diff, limit = abs(have[key] - row["mean"]), allowed(row, reference["tolerances"])
        status = "ok" if diff <= limit else "DIFFERS"
        lines.append(f"{status} {name}: {have[key]:.6g} vs reference {row['mean']:.6g} (|diff| {diff:.3g}, allowed {limit:.3g})")
    return lines
