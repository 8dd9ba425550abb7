"""The reading of a run, computed from its verdict.csv, contrasts.csv and summary.csv: per model, the pre-registered
headline (held-out bits per byte) first, with the teacher's advantage at round 0, each condition's change from round
0, each against the real-data control and the contrasts between conditions (what external intelligence changed);
then each condition's exploratory findings by class, each finding told once. A file target (results/reading.md),
shown in the HTML report and quoted by the README, so that no sentence about a run is written by hand. Nothing
depends on the order of the CSV rows: the headline is found by name (verdict.HEADLINE)."""

from __future__ import annotations

import math

from .verdict import (BETTER, CONTROL, DEGRADED, DERIVED, EXPLORATORY, HEADLINE, IMPROVED, NO_CHANGE, NO_DIFFERENCE,
                      ONE_SEED, SELF, UNSTABLE, WORSE)

# the order a condition's findings are told in
ORDER = (DEGRADED, IMPROVED, UNSTABLE, NO_CHANGE, ONE_SEED)
HEADS = {DEGRADED: "degraded", IMPROVED: "improved", UNSTABLE: "unstable", NO_CHANGE: "no significant change",
         ONE_SEED: "one seed, no interval"}
DIVERSITY = {"distinct_2": "distinct bigrams of the generated text", "self_bleu": "self-BLEU-4 of the generated text",
             "tail_survival": "rare real words still used"}
ALPHA = 0.05  # the level of each exploratory test


def metric_label(measure: str, set_name: str, metric: str) -> str:
    """A headline metric in words, as the README's table names it."""
    if measure == "perplexity":
        where = "held-out" if set_name == "heldout" else f"'{set_name}'"
        return f"{where} {metric.replace('_', ' ')}"
    if measure == "downstream":
        if metric == "bpb":
            return f"{set_name} gold answer's bits per byte"
        return "mean accuracy" if set_name == "average" else f"{set_name} accuracy"
    return DIVERSITY.get(metric, f"{metric.replace('_', ' ')} of the {set_name} text")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def number(value: float, interval: tuple[float, float]) -> str:
    """'+change [low, high]', without the interval where there is none (one seed)."""
    low, high = interval
    return f"{value:+.3g}" + ("" if math.isnan(low) else f" [{low:+.3g}, {high:+.3g}]")


def stability(v: dict) -> str:
    """For an unstable verdict or contrast: how likely a replicate flips it and how many seeds would settle it."""
    if v["verdict"] != UNSTABLE:
        return ""
    needed = v.get("seeds_needed", "")
    more = f"; about {int(float(needed))} seeds would settle it" if needed not in ("", None) else \
        "; more than 1000 seeds would be needed"
    return f" (a replicate flips it with probability {v['flip_probability']:.3f}{more})"


def is_headline(v: dict) -> bool:
    return (v["measure"], v["set"], v["metric"]) == HEADLINE


def finding(v: dict, derived: dict | None = None) -> str:
    """One verdict row as 'metric +change [low, high]', with its derived row (word perplexity) in parentheses."""
    text = f"{metric_label(v['measure'], v['set'], v['metric'])} {number(v['change'], (v['low'], v['high']))}"
    if derived:
        text += f" (word perplexity {derived['change']:+.3g}: the same loss)"
    return text + stability(v)


def _word_perplexity(rows: list[dict], v: dict) -> dict | None:
    """The derived word-perplexity row of a bits-per-byte row (same condition and set), or None."""
    return next((d for d in rows if d["role"] == DERIVED and d["condition"] == v["condition"]
                 and d["set"] == v["set"]), None)


def _round0(summary: list[dict], model: str) -> float | None:
    """A model's round-0 held-out bits per byte from summary rows (any condition: round 0 is shared), or None."""
    vals = [r["value"] for r in summary if r["model"] == model and int(r["round"]) == 0
            and (r["measure"], r["set"], r["metric"]) == HEADLINE]
    return float(vals[0]) if vals else None


def _external(c: dict, generator: dict[str, str]) -> dict | None:
    """A pair contrast between a condition a teacher writes and one the model writes itself, as teacher's minus
    self's (the sign turned where the row is the other way round), or None."""
    ga, gb = generator.get(c["condition"]), generator.get(c["versus"])
    if ga not in (SELF, CONTROL, None) and gb == SELF:
        return c
    if gb not in (SELF, CONTROL, None) and ga == SELF:
        flip = {BETTER: WORSE, WORSE: BETTER}
        return {**c, "condition": c["versus"], "versus": c["condition"], "difference": -c["difference"],
                "low": -c["high"], "high": -c["low"], "verdict": flip.get(c["verdict"], c["verdict"])}
    return None


def _contrast_class(c: dict) -> str:
    verdict = c["verdict"] if c["verdict"] in (BETTER, WORSE, NO_DIFFERENCE, UNSTABLE) else "one seed, no interval"
    return verdict + stability(c)


def _contrast_text(c: dict) -> str:
    return f"{number(c['difference'], (c['low'], c['high']))}, {_contrast_class(c)}"


def headline_lines(model: str, rows: list[dict], contrasts: list[dict], summary: list[dict]) -> list[str]:
    """The headline block of one model: the teacher's advantage at round 0, each condition's change from round 0,
    the recipe alone (the control), each condition against the control, the contrasts between conditions and what
    external intelligence (a teacher writing the corpus) changed."""
    heads = sorted((v for v in rows if is_headline(v)), key=lambda v: v["condition"])
    if not heads:
        return []
    label, last = metric_label(*HEADLINE), int(float(heads[0]["to_round"]))
    generator = {v["condition"]: v.get("generator", SELF) for v in rows}
    out = [f"**The headline: {label}** (lower is better; pre-registered; word perplexity, the same loss, in "
           f"parentheses):", ""]
    student = _round0(summary, model)
    for teacher in sorted({g for g in generator.values() if g not in (SELF, CONTROL)}):
        theirs = _round0(summary, teacher)
        if student is not None and theirs is not None:
            writes = ", ".join(c for c, g in sorted(generator.items()) if g == teacher)
            out.append(f"- The teacher's advantage at round 0: {teacher} (it writes the corpus of {writes}) is at "
                       f"{theirs:.4g}, the student {model} at {student:.4g}: {theirs - student:+.3g}.")
    out.append(f"- Change from round 0 to round {last}:")
    for v in heads:
        wp = _word_perplexity(rows, v)
        extra = f" (word perplexity {wp['change']:+.3g})" if wp else ""
        out.append(f"  - {v['condition']}: {number(v['change'], (v['low'], v['high']))}, {HEADS[v['verdict']]}"
                   f"{stability(v)}{extra}")
    for v in (v for v in heads if generator[v["condition"]] == CONTROL):
        out.append(f"- The recipe alone (the control {v['condition']}: the same continual training on real text "
                   f"only) changed it by {number(v['change'], (v['low'], v['high']))}.")
    on_head = sorted((c for c in contrasts if c["model"] == model and is_headline(c)),
                     key=lambda c: (c["versus"], c["condition"]))
    for control in sorted({c["versus"] for c in on_head if c["kind"] == "control"}):
        out.append(f"- Against the control {control} at round {last}:")
        out += [f"  - {c['condition']}: {_contrast_text(c)}" for c in on_head
                if c["kind"] == "control" and c["versus"] == control]
    for c in (c for c in on_head if c["kind"] == "pair"):
        out.append(f"- {c['condition']} minus {c['versus']} at round {last}: {_contrast_text(c)}.")
        ext = _external(c, generator)
        if ext is not None:
            out.append(f"  External intelligence ({generator[ext['condition']]} writing the corpus, {ext['condition']},"
                       f" instead of the model itself, {ext['versus']}) changed {label} by "
                       f"{number(ext['difference'], (ext['low'], ext['high']))}.")
    return out


def exploratory_lines(rows: list[dict], contrasts: list[dict]) -> list[str]:
    """Per condition, its exploratory findings by class (derived rows folded into theirs), and against the control."""
    explo = [v for v in rows if v["role"] == EXPLORATORY]
    if not explo:
        return []
    k = max(sum(1 for v in explo if v["condition"] == c) for c in {v["condition"] for v in explo})
    out = [f"**Exploratory** (each at {ALPHA:.0%}, uncorrected: with up to {plural(k, 'metric')} per condition, about "
           f"{ALPHA * k:.2g} false changes per condition are expected where nothing changed):", ""]
    for cond in sorted({v["condition"] for v in explo}):
        own = sorted((v for v in explo if v["condition"] == cond), key=lambda v: (v["measure"], v["set"], v["metric"]))
        parts = []
        for verdict in ORDER:
            found = [finding(v, _word_perplexity(rows, v) if v["metric"] == "bits_per_byte" else None)
                     for v in own if v["verdict"] == verdict]
            if found:
                parts.append(f"{HEADS[verdict]}: " + "; ".join(found))
        vs = sorted((c for c in contrasts if c["condition"] == cond and c["kind"] == "control"
                     and c["role"] == EXPLORATORY and c["verdict"] in (BETTER, WORSE)),
                    key=lambda c: (c["measure"], c["set"], c["metric"]))
        if vs:
            parts.append(f"against {vs[0]['versus']}: " + "; ".join(
                f"{metric_label(c['measure'], c['set'], c['metric'])} {_contrast_text(c)}" for c in vs))
        out.append(f"- **{cond}**: " + ". ".join(parts) + ".")
    return out


def reading(verdicts: list[dict], contrasts: list[dict] = (), summary: list[dict] = ()) -> str:
    """Markdown, per model: what the intervals and classes are, the headline block, the exploratory findings."""
    lines = []
    for model in sorted({v["model"] for v in verdicts}):
        rows = [v for v in verdicts if v["model"] == model]
        n = max(int(float(v["n"])) for v in rows)
        to_round = max(int(float(v["to_round"])) for v in rows)
        controls = sorted({v["condition"] for v in rows if v.get("generator") == CONTROL})
        control = f"; control: {', '.join(controls)} (real held-in text only, nothing generated)" if controls else ""
        level = float(rows[0].get("unstable_above", math.nan))
        unstable = "" if math.isnan(level) or level >= 1 else (
            f" Unstable: a fresh replicate with as many new seeds would land in another class with probability "
            f"above {level:.2g} (under the t model fitted to the seeds).")
        lines.append(f"Model {model}, rounds 0 to {to_round}, {plural(n, 'seed')} per condition{control}.")
        lines.append("")
        lines.append("Intervals are 95% Student t over seeds: round 0 is one checkpoint shared by every seed, so a "
                     "change from it carries the last round's spread (diversity, from each seed's own round 1, is "
                     "paired by seed); between conditions, Welch's. Classes: improved or degraded (better or worse "
                     "against another condition) when the interval excludes zero, no significant change (difference) "
                     f"when it does not.{unstable}")
        lines.append("")
        lines += headline_lines(model, rows, [c for c in contrasts if c["model"] == model], list(summary))
        lines.append("")
        lines += exploratory_lines(rows, [c for c in contrasts if c["model"] == model])
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def verdict_table(verdicts: list[dict]) -> str:
    """verdict.csv as the README's Markdown table: condition, metric (a task's item count and minimum detectable
    change), the means at the first and last round, the change with its interval, the verdict."""
    out = ["| condition | metric | rounds: mean over seeds | change [95% interval over seeds] | verdict |",
           "| --- | --- | --- | --- | --- |"]
    for v in sorted(verdicts, key=lambda v: (v["model"], v["condition"], not is_headline(v))):
        label = metric_label(v["measure"], v["set"], v["metric"])
        if v.get("items") not in (None, ""):
            label += f" ({int(float(v['items']))} items, mdc {float(v['mdc']):.3g})"
        rounds = f"{int(float(v['from_round']))} → {int(float(v['to_round']))}: {v['start']:.4g} → {v['end']:.4g}"
        out.append(f"| {v['condition']} | {label} | {rounds} | {number(v['change'], (v['low'], v['high']))} | "
                   f"{v['verdict']}{stability(v)} |")
    return "\n".join(out) + "\n"


def contrast_table(contrasts: list[dict]) -> str:
    """contrasts.csv as a Markdown table: the contrast, metric, the two means, the difference with its Welch
    interval, the class."""
    out = ["| contrast | metric | last round: means | difference [95% Welch interval] | verdict |",
           "| --- | --- | --- | --- | --- |"]
    for c in sorted(contrasts, key=lambda c: (c["model"], c["kind"] != "control", c["versus"], c["condition"],
                                              not is_headline(c))):
        if c.get("role") == DERIVED:
            continue
        out.append(f"| {c['condition']} − {c['versus']} | {metric_label(c['measure'], c['set'], c['metric'])} | "
                   f"{c['mean']:.4g} − {c['versus_mean']:.4g} | {number(c['difference'], (c['low'], c['high']))} | "
                   f"{_contrast_class(c)} |")
    return "\n".join(out) + "\n"
