"""The answer, computed. verdict.csv: per condition and headline metric, the change from round 0 (diversity: round
1) to the last round, its 95% interval and a verdict (improved / no significant change / degraded / unstable).
contrasts.csv: conditions compared with each other at the last round, each with the real-data control and every
pair of the others, with the same classes (better / no significant difference / worse / unstable).

The interval. A change is each seed's last-round value minus its first judged value, and its interval is the
Student t interval of the mean of those changes (n - 1 degrees of freedom). From round 0, the first value is one
checkpoint shared by every seed, so there is nothing to pair: the interval is the last round's spread over seeds.
Diversity is judged from each seed's own round-1 corpus (round 0's diversity is that of real text), so there the
change is paired by seed. Seeds of two conditions are independent draws (a job's seed derives from its condition's
name), so a contrast's interval is Welch's: each condition's own variance, Welch-Satterthwaite degrees of freedom.
Where two conditions share their round-1 corpus (same generation and filters), their seeds correlate positively and
Welch's interval is wider than it need be, never narrower.

Unstable: what a fresh replicate would say. A replicate is the same config run again with as many new seeds (on
another machine the sampled corpora diverge from the first differing token, which is the same thing). A class is
a two-sided 5% t test; under the t model fitted to the seeds (true mean and standard deviation as observed), a
replicate's t statistic is noncentral t with the observed t as its noncentrality, which gives the probability that
the replicate lands in another class (flip_probability). A verdict is unstable when that exceeds verdict's
max_flip_probability (default 0.2: a stable verdict is repeated by at least 4 replicates in 5). For a contrast, a
replicate's Welch statistic has no closed form (its degrees of freedom vary with its variances): its class
probabilities are averaged over fixed-seed draws of the two variances (welch_class_probabilities). Where a verdict is
unstable, seeds_needed is the smallest number of seeds per condition at which, under the same fitted model, one
class has probability 1 - max_flip_probability or more (empty above MAX_SEEDS): a plug-in estimate, as uncertain as
the seeds' standard deviation it is computed from. The measured kernel spread (scripts/kernel_spread.py) plays no
part: thread counts left round 0 identical and moved only the sampled corpora, the variability that the seeds
already measure, so adding it would count that variability twice; it remains the reference's tolerances
(compare_reference.py).

Several metrics. One headline is pre-registered: held-out bits per byte (HEADLINE). Word perplexity on a set is the
same loss as that set's bits per byte in other units, so it is one finding with it (role 'derived': its numbers are
kept, its verdict is SAME_LOSS, no class of its own). Every other metric is exploratory: each tested at 5%, with no
correction, so that among k exploratory metrics about 0.05 k 'changes' are expected where nothing changed; the
reading says so."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import dataclass

from .report import DOWNSTREAM_AVERAGE, mean_sd, t_critical

VERDICT_COLUMNS = ("model", "condition", "generator", "role", "measure", "set", "metric", "better", "from_round",
                   "to_round", "n", "start", "end", "change", "low", "high", "verdict", "flip_probability",
                   "seeds_needed", "unstable_above", "items", "item_halfwidth", "mdc")
CONTRAST_COLUMNS = ("model", "condition", "versus", "kind", "role", "measure", "set", "metric", "better", "round",
                    "n", "n_versus", "mean", "versus_mean", "difference", "low", "high", "df", "verdict",
                    "flip_probability", "seeds_needed", "unstable_above")
IMPROVED, NO_CHANGE, DEGRADED, ONE_SEED = "improved", "no significant change", "degraded", "one seed: no interval"
BETTER, NO_DIFFERENCE, WORSE = "better", "no significant difference", "worse"
# the verdict of a derived row: its numbers are kept, its finding is that of bits per byte on the same set
SAME_LOSS = "same loss as bits per byte"
UNSTABLE = "unstable"
# the pre-registered headline; word perplexity is derived from bits per byte (one loss), the rest exploratory
HEADLINE = ("perplexity", "heldout", "bits_per_byte")
HEADLINE_ROLE, DERIVED, EXPLORATORY = "headline", "derived", "exploratory"
# generator column: the model being trained writes its corpus, or nothing is written (the real-data control)
SELF, CONTROL = "self", "none"
LEVEL = 0.95
MAX_SEEDS = 1000  # seeds_needed searches this far
WELCH_DRAWS, WELCH_SEED = 20000, 0  # welch_class_probabilities' draws of a replicate's two variances
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
    """The headline metrics present in summary rows: bits per byte (and word perplexity, derived) on every
    real set, accuracy of every downstream task and their average, and the headline diversity metrics."""
    have = {(r["measure"], r["set"], r["metric"]) for r in rows}
    sets = sorted({s for m, s, _ in have if m == "perplexity"}, key=lambda s: (s != "heldout", s))
    tasks = sorted({s for m, s, k in have if m == "downstream" and k == "acc"},
                   key=lambda s: (s != DOWNSTREAM_AVERAGE[0], s))
    out = [Headline("perplexity", s, k, "lower") for s in sets for k in ("bits_per_byte", "word_perplexity")
           if ("perplexity", s, k) in have]
    out += [Headline("downstream", t, "acc", "higher") for t in tasks]
    # the gold answer's bits per byte of OLMES tasks (and of their gold-bpb sets, which have no accuracy): where a
    # small model's accuracy sits at chance, this still moves (docs/evaluation.md)
    out += [Headline("downstream", t, "bpb", "lower")
            for t in sorted({s for m, s, k in have if m == "downstream" and k == "bpb"})]
    out += [Headline("diversity", "generated", k, b, 1) for k, b in DIVERSITY_HEADLINES
            if ("diversity", "generated", k) in have]
    return out


def role(measure: str, set_name: str, metric: str) -> str:
    """headline (pre-registered), derived (word perplexity: its set's bits per byte in other units) or exploratory."""
    if (measure, set_name, metric) == HEADLINE:
        return HEADLINE_ROLE
    return DERIVED if (measure, metric) == ("perplexity", "word_perplexity") else EXPLORATORY


def class_probabilities(delta: float, df: float, level: float = LEVEL) -> tuple[float, float]:
    """(P(T > c), P(T < -c)) for T noncentral t with df degrees of freedom and noncentrality delta, c the two-sided
    t quantile of level: how likely a replicate's test comes out above or below zero. T = (Z + delta) / S with S =
    chi(df) / sqrt(df), so P(T > c) = E[Phi(delta - c S)], integrated over the chi density (exact, and stable where
    scipy's nct returns NaN far in its tails)."""
    from scipy.integrate import quad
    from scipy.stats import chi, norm

    c = t_critical(df, level)

    def above(d):
        return quad(lambda x: norm.cdf(d - c * x / math.sqrt(df)) * chi.pdf(x, df), 0, math.inf)[0]

    return min(1.0, above(delta)), min(1.0, above(-delta))


def classify(mean: float, low: float, high: float, better: str, labels=(IMPROVED, NO_CHANGE, DEGRADED)) -> str:
    """The class of an interval: it excludes zero on the better side, or the worse, or it does not."""
    good, none, bad = labels
    if low > 0 or high < 0:
        return good if (mean < 0) == (better == "lower") else bad
    return none


def welch_class_probabilities(diff: float, var_a: float, var_b: float, na: int, nb: int, level: float = LEVEL
                              ) -> tuple[float, float]:
    """(P(above), P(below)) of a replicate's Welch test of two conditions whose seeds are normal with these variances
    and means diff apart, na and nb seeds. The replicate's sample variances are independent scaled chi-squares; given
    them, its difference of means is normal, so each probability is the mean over WELCH_DRAWS draws of the variances
    of a normal probability (their degrees of freedom, and so the test's quantile, vary with them: no closed form).
    The draws come from a fixed seed, so the same inputs give the same numbers."""
    import numpy as np
    from scipy.stats import norm, t

    rng = np.random.default_rng(WELCH_SEED)
    va = var_a * rng.chisquare(na - 1, WELCH_DRAWS) / (na - 1) / na
    vb = var_b * rng.chisquare(nb - 1, WELCH_DRAWS) / (nb - 1) / nb
    margin = t.ppf(0.5 + level / 2, (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))) * np.sqrt(va + vb)
    sd = math.sqrt(var_a / na + var_b / nb)
    return float(np.mean(norm.cdf((diff - margin) / sd))), float(np.mean(norm.cdf((-diff - margin) / sd)))


def flip_probability(up: float, down: float, observed: int) -> float:
    """The probability that a replicate lands in another class than the observed one (+1 above zero, -1 below, 0
    neither), given its probabilities of landing above and below."""
    return 1 - up if observed > 0 else 1 - down if observed < 0 else up + down


def settled(up: float, down: float, max_flip: float) -> bool:
    """Whether one class of a replicate has probability 1 - max_flip or more."""
    return max(up, down, 1 - up - down) >= 1 - max_flip


def seeds_needed(probabilities_at, n: int, max_flip: float) -> int | None:
    """The smallest number of seeds m > n at which a replicate's class probabilities, probabilities_at(m) = (above,
    below), settle one class (settled); found by doubling, then bisection (the probabilities grow with m for any
    effect that is not zero). None beyond MAX_SEEDS."""
    low, high = n, n
    while True:
        high = min(2 * high, MAX_SEEDS)
        if settled(*probabilities_at(high), max_flip):
            break
        if high == MAX_SEEDS:
            return None
        low = high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if settled(*probabilities_at(mid), max_flip) else (mid, high)
    return high


def counted_once(result: dict, role_: str) -> dict:
    """A derived row (word perplexity) keeps its numbers but no class of its own: one loss, one finding."""
    if role_ != DERIVED:
        return result
    return {**result, "verdict": SAME_LOSS, "flip_probability": math.nan, "seeds_needed": ""}


def judge(changes: list[float], better: str, max_flip: float = 1.0) -> dict:
    """Mean change, its 95% t-interval over seeds and the verdict: improved / degraded when the interval excludes
    zero on that side, no significant change when it does not, unstable when a replicate with as many seeds would
    flip that class with probability above max_flip (flip_probability); one seed has no interval. With the
    flip probability and, for an unstable verdict, the seeds a stable one would need."""
    n = len(changes)
    mean, sd = mean_sd(changes)
    out = {"change": mean, "low": math.nan, "high": math.nan, "verdict": ONE_SEED, "flip_probability": math.nan,
           "seeds_needed": ""}
    if n < 2:
        return out
    se = sd / math.sqrt(n)
    half = t_critical(n - 1) * se
    verdict = classify(mean, mean - half, mean + half, better)

    def probabilities_at(m):  # a replicate of m seeds: its t statistic is noncentral t(m - 1, mean / (sd / sqrt m))
        return class_probabilities(mean / (sd / math.sqrt(m)), m - 1)

    out.update(low=mean - half, high=mean + half, verdict=verdict,
               flip_probability=0.0 if sd == 0 else flip_probability(*probabilities_at(n), side(mean, half)))
    if out["flip_probability"] > max_flip:
        out["verdict"] = UNSTABLE
        out["seeds_needed"] = seeds_needed(probabilities_at, n, max_flip) or ""
    return out


def side(mean: float, half: float) -> int:
    """+1 when the interval mean +- half lies above zero, -1 below, 0 when it holds zero."""
    return 1 if mean - half > 0 else -1 if mean + half < 0 else 0


def welch_df(va: float, vb: float, na: int, nb: int) -> float:
    """Welch-Satterthwaite degrees of freedom of two squared standard errors over na and nb seeds."""
    return (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) if va + vb > 0 else na + nb - 2


def contrast(a: list[float], b: list[float], better: str, max_flip: float = 1.0) -> dict:
    """Condition a against condition b at one round (values over seeds): the difference of means, its 95% Welch
    interval and the class (better / worse: a is, beyond the interval; no significant difference; unstable as in
    judge); one seed on either side has no interval."""
    out = {"difference": sum(a) / len(a) - sum(b) / len(b), "low": math.nan, "high": math.nan, "df": math.nan,
           "verdict": ONE_SEED, "flip_probability": math.nan, "seeds_needed": ""}
    if len(a) < 2 or len(b) < 2:
        return out
    diff, var_a, var_b = out["difference"], mean_sd(a)[1] ** 2, mean_sd(b)[1] ** 2
    se, df = math.sqrt(var_a / len(a) + var_b / len(b)), welch_df(var_a / len(a), var_b / len(b), len(a), len(b))
    half = t_critical(df) * se

    def probabilities_at(m, m_versus=None):  # a replicate of m seeds in each condition (m_versus in b)
        return welch_class_probabilities(diff, var_a, var_b, m, m_versus or m)

    out.update(low=diff - half, high=diff + half, df=df,
               verdict=classify(diff, diff - half, diff + half, better, (BETTER, NO_DIFFERENCE, WORSE)),
               flip_probability=0.0 if se == 0 else flip_probability(*probabilities_at(len(a), len(b)),
                                                                      side(diff, half)))
    if out["flip_probability"] > max_flip:
        out["verdict"] = UNSTABLE
        out["seeds_needed"] = seeds_needed(probabilities_at, min(len(a), len(b)), max_flip) or ""
    return out


def item_precision(acc: float, items: int) -> tuple[float, float]:
    """Half-width of the 95% normal interval of an accuracy measured on `items` items, and the minimum change
    between two such accuracies that a two-sided 5% test detects with 80% power (independent items: a bound,
    since every round answers the same items and a paired change can be detected at less)."""
    var = acc * (1.0 - acc) / items
    return Z_ALPHA * math.sqrt(var), (Z_ALPHA + Z_POWER) * math.sqrt(2.0 * var)


def _values(rows: list[dict]):
    """({(model, condition, measure, set, metric, seed, round): value}, {(model, condition): (seeds, last round)})."""
    value, points = {}, defaultdict(set)
    for r in rows:
        value[(r["model"], r["condition"], r["measure"], r["set"], r["metric"], r["seed"], r["round"])] = r["value"]
        points[(r["model"], r["condition"])].add((r["seed"], r["round"]))
    return value, {k: (sorted({s for s, _ in p}), max(rnd for _, rnd in p)) for k, p in sorted(points.items())}


def verdict_rows(rows: list[dict], items: dict[tuple[str, str], int] | None = None,
                 generators: dict[str, str] | None = None, max_flip: float = 1.0) -> list[dict]:
    """One row per model x condition x headline metric: mean start and end over seeds, the mean change, its 95%
    interval, the verdict, its flip probability and seeds needed (judge). items: {(model, task): item count} for
    the downstream columns; generators: {condition: who writes its corpus} (SELF, a teacher, CONTROL)."""
    items, generators = items or {}, generators or {}
    value, branches = _values(rows)
    out = []
    for (model, cond), (seeds, last) in branches.items():
        if last == 0:
            continue  # a model no condition trains (condition "-")
        for h in headlines([r for r in rows if r["model"] == model and r["condition"] == cond]):
            if h.from_round >= last:
                continue
            key = (model, cond, h.measure, h.set, h.metric)
            pairs = [(value[(*key, s, h.from_round)], value[(*key, s, last)]) for s in seeds
                     if (*key, s, h.from_round) in value and (*key, s, last) in value]
            if not pairs:
                continue
            start = sum(a for a, _ in pairs) / len(pairs)
            n_items = items.get((model, h.set)) if h.measure == "downstream" else None
            # an accuracy's item-sampling precision (item_precision is a proportion's; none for bits per byte)
            half, mdc = item_precision(start, n_items) if n_items and h.metric == "acc" else (math.nan, math.nan)
            out.append({"model": model, "condition": cond, "generator": generators.get(cond, SELF),
                        "role": role(h.measure, h.set, h.metric), "measure": h.measure, "set": h.set,
                        "metric": h.metric, "better": h.better, "from_round": h.from_round, "to_round": last,
                        "n": len(pairs), "start": start, "end": sum(b for _, b in pairs) / len(pairs),
                        **counted_once(judge([b - a for a, b in pairs], h.better, max_flip),
                                       role(h.measure, h.set, h.metric)), "unstable_above": max_flip,
                        "items": n_items or "", "item_halfwidth": half, "mdc": mdc})
    return out


def contrast_rows(rows: list[dict], generators: dict[str, str] | None = None, max_flip: float = 1.0) -> list[dict]:
    """Conditions compared at their common last round, per model and headline metric: every condition with each
    real-data control (generator CONTROL; kind 'control': condition minus control), and every pair of the other
    conditions (kind 'pair': the first in name order minus the second)."""
    generators = generators or {}
    value, branches = _values(rows)
    by_model = defaultdict(list)
    for (model, cond), (seeds, last) in branches.items():
        if last > 0:
            by_model[model].append(cond)
    out = []
    for model, conds in sorted(by_model.items()):
        controls = [c for c in conds if generators.get(c) == CONTROL]
        others = [c for c in conds if c not in controls]
        pairs = [(c, k, "control") for c in others for k in controls]
        pairs += [(a, b, "pair") for a, b in itertools.combinations(others, 2)]
        for a, b, kind in pairs:
            (seeds_a, last), (seeds_b, last_b) = branches[(model, a)], branches[(model, b)]
            if last != last_b:
                continue
            for h in headlines([r for r in rows if r["model"] == model and r["condition"] in (a, b)]):
                key = (h.measure, h.set, h.metric)
                va = [value[(model, a, *key, s, last)] for s in seeds_a if (model, a, *key, s, last) in value]
                vb = [value[(model, b, *key, s, last)] for s in seeds_b if (model, b, *key, s, last) in value]
                if not va or not vb:
                    continue  # e.g. the diversity of generated text, which a control has none of
                out.append({"model": model, "condition": a, "versus": b, "kind": kind, "role": role(*key),
                            "measure": h.measure, "set": h.set, "metric": h.metric, "better": h.better,
                            "round": last, "n": len(va), "n_versus": len(vb), "mean": sum(va) / len(va),
                            "versus_mean": sum(vb) / len(vb),
                            **counted_once(contrast(va, vb, h.better, max_flip), role(*key)),
                            "unstable_above": max_flip})
    return out


def answer(rows: list[dict], base_evals: dict[str, dict], generators: dict[str, str], max_flip: float
           ) -> tuple[list[dict], list[dict]]:
    """verdict.csv's and contrasts.csv's rows from summary rows and the round-0 eval.json files (item counts)."""
    return (verdict_rows(rows, task_items(base_evals), generators, max_flip),
            contrast_rows(rows, generators, max_flip))


def task_items(base_evals: dict[str, dict]) -> dict[tuple[str, str], int]:
    """{(model, task): item count} from round-0 eval.json files (every round answers the same items)."""
    return {(model, t): int(m["items"]) for model, ev in base_evals.items()
            for t, m in ev.get("downstream", {}).items() if m.get("items")}


NUMBERS = ("change", "low", "high", "start", "end", "mdc", "item_halfwidth", "flip_probability", "mean",
           "versus_mean", "difference", "df", "unstable_above")


def read_verdict(path) -> list[dict]:
    """verdict.csv or contrasts.csv back as rows (numbers as floats, empty cells as NaN)."""
    import csv

    def num(v):
        return math.nan if v == "" else float(v)

    with open(path, newline="") as f:
        return [{**r, **{k: num(r[k]) for k in NUMBERS if k in r}} for r in csv.DictReader(f)]
