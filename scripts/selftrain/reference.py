"""Agreement of a run with a recorded reference run, within tolerances per metric, and the kernel spread those
tolerances come from.

Bytes are identical only where the floating-point kernels are (same CPU kind, same torch build): another
machine's matmul sums in another order, round 0's perplexity moves in its last digits, and from the first
sampled token that differs each round's generated text, and everything trained on it, is another draw.
measure_spread takes the same config run under other kernel settings (thread counts: another summation order,
as another machine has) and records, per headline metric, how far the first judged round's mean, the last
round's mean and the verdict's interval bounds moved; the tolerances are that times a stated margin. A
reference recorded with a spread holds each row to those; without one, round 0 to a fixed tolerance per
metric and a later round to that plus the reference's own 95% seed interval."""

from __future__ import annotations

import csv
import json
import math

from .io import atomic_write_text
from .verdict import headlines

# per metric: absolute tolerance, or relative ("rel") for metrics that scale (perplexities, lengths); also the
# floor under a measured spread's tolerance, which thread counts alone can leave at 0 (round 0 came out identical
# under 1 and 2 threads, 2026-12-02) while another CPU kind moved round-0 minimal_pairs accuracy by 0.0132
# (issue 20: 0.7685 against 0.7817, 985 items): accuracy's floor is twice that, rounded up
TOLERANCES = {
    "bits_per_byte": {"abs": 0.01}, "word_perplexity": {"rel": 0.03}, "acc": {"abs": 0.03},
    "distinct_2": {"abs": 0.01}, "self_bleu": {"abs": 0.01}, "tail_survival": {"abs": 0.01},
    # an OLMES task's gold answer bits per byte: held-out bits per byte's, no spread measured for it yet
    "bpb": {"abs": 0.01},
}
KEY = ("model", "condition", "round", "measure", "set", "metric")


def spread_key(measure: str, set_name: str, metric: str) -> str:
    """How a headline metric is named in a kernel-spread file: measure/set/metric."""
    return f"{measure}/{set_name}/{metric}"


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


def write_reference(path, intervals: list[dict], measured: str, spread: dict | None = None) -> None:
    """Record a run's headline numbers (and where and when they were measured) as a reference JSON; with a
    kernel-spread file (measure_spread), its tolerances."""
    doc = {"measured": measured, "rows": reference_rows(intervals), "tolerances": dict(TOLERANCES)}
    if spread:  # per headline (measure/set/metric); a metric the spread does not name keeps its fixed tolerance
        doc["tolerances"].update(spread["tolerances"])
        doc["kernel_spread"] = {k: spread[k] for k in ("measured", "runs", "margin")}
    atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def allowed(row: dict, tolerances: dict) -> float:
    """The largest difference a rerun may show for a reference row: the metric's fixed tolerance (plus the seed
    half-width after round 0), or the measured spread's tolerance of its round (first judged or last) where
    that is larger."""
    fixed = tolerances[row["metric"]]
    floor = (fixed["abs"] if "abs" in fixed else fixed["rel"] * abs(row["mean"])) + (
        row["halfwidth"] if row["round"] > 0 else 0.0)
    tol = tolerances.get(spread_key(row["measure"], row["set"], row["metric"]))
    if tol is not None:
        first = {(h.measure, h.set, h.metric): h.from_round for h in headlines([row])}[
            (row["measure"], row["set"], row["metric"])]
        return max(tol["first_round"] if row["round"] == first else tol["last_round"], floor)
    return floor


def measure_spread(runs: list[dict], measured: str, margin: float) -> dict:
    """The kernel spread of runs of one config under other kernel settings: runs are {"label", "verdicts"
    (verdict.csv rows)}. Per headline metric (spread_key), the largest difference
    between any two runs, over conditions, of the first judged round's mean, the last round's mean and an
    interval bound; tolerances are margin times those."""
    import itertools

    def means(run):
        out = {}
        for v in run["verdicts"]:
            key = spread_key(v["measure"], v["set"], v["metric"])
            out[(key, v["model"], v["condition"])] = (v["start"], v["end"], v["low"], v["high"])
        return out

    observed: dict[str, dict[str, float]] = {}
    tables = [means(run) for run in runs]
    for a, b in itertools.combinations(tables, 2):
        for k in a.keys() & b.keys():
            (s1, e1, l1, h1), (s2, e2, l2, h2) = a[k], b[k]
            o = observed.setdefault(k[0], {"first_round": 0.0, "last_round": 0.0, "interval_bounds": 0.0})
            o["first_round"] = max(o["first_round"], abs(s1 - s2))
            o["last_round"] = max(o["last_round"], abs(e1 - e2))
            if not any(map(math.isnan, (l1, h1, l2, h2))):
                o["interval_bounds"] = max(o["interval_bounds"], abs(l1 - l2), abs(h1 - h2))
    return {"measured": measured, "runs": [r["label"] for r in runs], "margin": margin,
            "observed": dict(sorted(observed.items())),
            "tolerances": {k: {name: margin * v for name, v in o.items()} for k, o in sorted(observed.items())}}


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
