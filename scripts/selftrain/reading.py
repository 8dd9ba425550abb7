"""The reading of a run, computed from its verdict.csv: per model and condition, which headline metrics
improved, degraded, did not change or are unstable, with the change and its interval. A file target
(results/reading.md), shown in the HTML report and quoted by the README, so that no sentence about a run is
written by hand."""

from __future__ import annotations

import math

from .verdict import DEGRADED, IMPROVED, NO_CHANGE, ONE_SEED, UNSTABLE

# the order a condition's findings are told in
ORDER = (DEGRADED, IMPROVED, UNSTABLE, NO_CHANGE, ONE_SEED)
HEADS = {DEGRADED: "degraded", IMPROVED: "improved", UNSTABLE: "unstable (the measured kernel spread could flip it)",
         NO_CHANGE: "no significant change", ONE_SEED: "one seed, no interval"}
DIVERSITY = {"distinct_2": "distinct bigrams of the generated text", "self_bleu": "self-BLEU-4 of the generated text",
             "tail_survival": "rare real words still used"}


def metric_label(measure: str, set_name: str, metric: str) -> str:
    """A headline metric in words, as the README's table names it."""
    if measure == "perplexity":
        where = "held-out" if set_name == "heldout" else f"'{set_name}'"
        return f"{where} {metric.replace('_', ' ')}"
    if measure == "downstream":
        return "mean accuracy" if set_name == "average" else f"{set_name} accuracy"
    return DIVERSITY.get(metric, f"{metric.replace('_', ' ')} of the {set_name} text")


def finding(v: dict) -> str:
    """One verdict row as 'metric +change [low, high]'."""
    interval = "" if math.isnan(v["low"]) else f" [{v['low']:+.3g}, {v['high']:+.3g}]"
    return f"{metric_label(v['measure'], v['set'], v['metric'])} {v['change']:+.3g}{interval}"


def reading(verdicts: list[dict]) -> str:
    """Markdown: a line per model and condition, its findings grouped by verdict (degraded, improved, unstable,
    no significant change), then which conditions moved the first headline metric (held-out bits per byte)."""
    lines = []
    for model in sorted({v["model"] for v in verdicts}):
        rows = [v for v in verdicts if v["model"] == model]
        if not rows:
            continue
        n = max(int(float(v["n"])) for v in rows)
        to_round = max(int(float(v["to_round"])) for v in rows)
        lines.append(f"Model {model}, rounds 0 to {to_round} ({n} seeds; change of the mean over seeds, 95% "
                     f"interval paired by seed; diversity from round 1):")
        lines.append("")
        for cond in sorted({v["condition"] for v in rows}):
            own = [v for v in rows if v["condition"] == cond]
            parts = []
            for verdict in ORDER:
                found = [finding(v) for v in own if v["verdict"] == verdict]
                if found:
                    parts.append(f"{HEADS[verdict]}: " + "; ".join(found))
            lines.append(f"- **{cond}**: " + ". ".join(parts) + ".")
        head = rows[0]
        label = metric_label(head["measure"], head["set"], head["metric"])
        on_head = [v for v in rows if (v["measure"], v["set"], v["metric"]) == (head["measure"], head["set"],
                                                                                   head["metric"])]
        told = []
        for verdict in (DEGRADED, IMPROVED, UNSTABLE, NO_CHANGE):
            names = [f"{v['condition']} ({v['change']:+.3g})" for v in on_head if v["verdict"] == verdict]
            if names:
                told.append(f"{HEADS[verdict].split(' (')[0]}: {', '.join(names)}")
        lines.append("")
        lines.append(f"On {label}, the headline: " + "; ".join(told) + ".")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def verdict_table(verdicts: list[dict]) -> str:
    """verdict.csv as the README's Markdown table: condition, metric (a task's item count and minimum detectable
    change), the means at the first and last round, the change with its interval, the verdict."""
    out = ["| condition | metric | rounds: mean over seeds | change [95% interval, paired by seed] | verdict |",
           "| --- | --- | --- | --- | --- |"]
    for v in verdicts:
        label = metric_label(v["measure"], v["set"], v["metric"])
        if v.get("items") not in (None, ""):
            label += f" ({int(float(v['items']))} items, mdc {float(v['mdc']):.3g})"
        interval = "" if math.isnan(v["low"]) else f" [{v['low']:+.3g}, {v['high']:+.3g}]"
        rounds = f"{int(float(v['from_round']))} → {int(float(v['to_round']))}: {v['start']:.4g} → {v['end']:.4g}"
        out.append(f"| {v['condition']} | {label} | {rounds} | {v['change']:+.3g}{interval} | {v['verdict']} |")
    return "\n".join(out) + "\n"
