import math

import numpy as np
import pytest

from selftrain.report import write_csv
from selftrain.verdict import (BETTER, CONTRAST_COLUMNS, DEGRADED, DERIVED, EXPLORATORY, HEADLINE_ROLE, IMPROVED,
                               NO_CHANGE, NO_DIFFERENCE, ONE_SEED, SAME_LOSS, UNSTABLE, VERDICT_COLUMNS, WORSE,
                               class_probabilities, contrast, contrast_rows, flip_probability, item_precision, judge,
                               read_verdict, settled, task_items, verdict_rows)

T975_2 = 4.302652729749464  # Student t, 0.975 quantile, 2 degrees of freedom (scipy.stats.t.ppf)


def rows_of(cond, measure, set_name, metric, values, model="m"):
    """Summary rows of one condition: values[seed] = [value at round 0, 1, ...]."""
    return [{"model": model, "condition": cond, "seed": s, "round": r, "measure": measure, "set": set_name,
             "metric": metric, "value": v} for s, per_round in enumerate(values) for r, v in enumerate(per_round)]


def one(rows, **key):
    [row] = [v for v in verdict_rows(rows) if all(v[k] == x for k, x in key.items())]
    return row


def test_bits_per_byte_that_rises_on_every_seed_is_degraded():
    # changes +0.18, +0.2, +0.22 from a shared round 0: mean 0.2, sd 0.02, half-width t * 0.02 / sqrt(3)
    rows = rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 2.1, 2.18], [2.0, 2.1, 2.2], [2.0, 2.2, 2.22]])
    v = one(rows, metric="bits_per_byte")
    half = T975_2 * 0.02 / math.sqrt(3)
    assert v["verdict"] == DEGRADED and v["better"] == "lower" and (v["from_round"], v["to_round"], v["n"]) == (0, 2, 3)
    assert (v["start"], v["end"]) == (2.0, pytest.approx(2.2))
    assert (v["change"], v["low"], v["high"]) == pytest.approx((0.2, 0.2 - half, 0.2 + half))
    assert v["role"] == HEADLINE_ROLE and v["generator"] == "self"
    # t = 0.2 / (0.02 / sqrt(3)) = 17.3: a replicate of 3 seeds is degraded too unless its sd comes out 4x larger
    assert v["flip_probability"] < 1e-6 and v["seeds_needed"] == ""


def test_accuracy_that_rises_is_improved_and_carries_its_item_precision():
    rows = rows_of("accumulate", "downstream", "minimal_pairs", "acc", [[0.5, 0.6], [0.5, 0.62], [0.5, 0.64]])
    [v] = verdict_rows(rows, {("m", "minimal_pairs"): 400})
    assert v["verdict"] == IMPROVED and v["change"] == pytest.approx(0.12) and v["items"] == 400
    # 1.96 * sqrt(0.25 / 400) and (1.96 + 0.8416) * sqrt(2 * 0.25 / 400)
    assert v["item_halfwidth"] == pytest.approx(0.04899909961)
    assert v["mdc"] == pytest.approx(0.09905099529)
    assert v["role"] == EXPLORATORY


def test_an_olmes_tasks_gold_bits_per_byte_is_judged_lower_is_better_without_item_precision():
    """OLMES tasks report acc, acc_per_char and the gold answer's bpb: the verdict judges acc and bpb, and gives an
    item precision to the accuracy only (a proportion's)."""
    rows = [*rows_of("replace", "downstream", "hellaswag:rc::olmes", "acc", [[0.3, 0.3]] * 3),
            *rows_of("replace", "downstream", "hellaswag:rc::olmes", "acc_per_char", [[0.3, 0.3]] * 3),
            *rows_of("replace", "downstream", "hellaswag:rc::olmes", "bpb", [[2.9, 2.95], [2.9, 2.96], [2.9, 2.97]])]
    verdicts = verdict_rows(rows, {("m", "hellaswag:rc::olmes"): 100})
    assert sorted(v["metric"] for v in verdicts) == ["acc", "bpb"]
    bpb = next(v for v in verdicts if v["metric"] == "bpb")
    assert (bpb["better"], bpb["verdict"], bpb["role"]) == ("lower", DEGRADED, EXPLORATORY)
    assert math.isnan(bpb["item_halfwidth"]) and math.isnan(bpb["mdc"]) and bpb["items"] == 100
    acc = next(v for v in verdicts if v["metric"] == "acc")
    assert acc["item_halfwidth"] == pytest.approx(1.96 * math.sqrt(0.21 / 100), rel=1e-4)


def test_a_spread_wider_than_the_mean_change_is_no_significant_change():
    # changes +0.1, +0.2, +0.3: mean 0.2 but half-width 4.30 * 0.1 / sqrt(3) = 0.248
    rows = rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 2.1], [2.0, 2.2], [2.0, 2.3]])
    v = one(rows, metric="bits_per_byte")
    assert v["verdict"] == NO_CHANGE and v["low"] < 0 and v["low"] == pytest.approx(0.2 - T975_2 * 0.1 / math.sqrt(3))


def test_changes_of_both_signs_are_no_significant_change():
    rows = rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 1.9], [2.0, 2.1], [2.0, 2.0]])
    v = one(rows, metric="bits_per_byte")
    assert v["verdict"] == NO_CHANGE and v["change"] == pytest.approx(0.0)
    assert (v["low"], v["high"]) == pytest.approx((-T975_2 * 0.1 / math.sqrt(3), T975_2 * 0.1 / math.sqrt(3)))
    # t = 0: a replicate excludes zero only by chance, 5% of the time (2.5% each side)
    assert v["flip_probability"] == pytest.approx(0.05, abs=1e-9)


def test_one_seed_has_a_change_but_no_interval_and_no_verdict():
    v = one(rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 2.5]]), metric="bits_per_byte")
    assert v["verdict"] == ONE_SEED and v["change"] == 0.5 and math.isnan(v["low"]) and math.isnan(v["high"])
    assert math.isnan(v["flip_probability"]) and v["seeds_needed"] == ""
    assert judge([0.5], "lower")["verdict"] == ONE_SEED


def test_diversity_is_judged_from_the_first_generated_round_and_word_perplexity_is_derived():
    rows = rows_of("replace", "diversity", "real", "distinct_2", [[0.9]] * 3)  # round 0: real text, not judged
    rows += [{**r, "set": "generated"} for r in rows_of("replace", "diversity", "g", "distinct_2",
                                                         [[None, 0.5, 0.4], [None, 0.5, 0.41], [None, 0.5, 0.39]])
             if r["round"] > 0]
    rows += rows_of("replace", "perplexity", "heldout", "word_perplexity", [[100.0, 90.0, 80.0]] * 3)
    div = one(rows, metric="distinct_2")
    assert (div["from_round"], div["start"], div["verdict"]) == (1, 0.5, DEGRADED)  # fewer distinct bigrams
    assert div["change"] == pytest.approx(-0.1) and div["items"] == ""
    wp = one(rows, metric="word_perplexity")
    # identical seeds: zero spread, the interval is the point; its finding is bits per byte's (one loss)
    assert (wp["change"], wp["low"], wp["high"], wp["verdict"]) == (-20.0, -20.0, -20.0, SAME_LOSS)
    assert wp["role"] == DERIVED and math.isnan(wp["flip_probability"])
    # a replicate of zero spread repeats it
    assert judge([-20.0] * 3, "lower")["verdict"] == IMPROVED and judge([-20.0] * 3, "lower")["flip_probability"] == 0


def test_several_metrics_have_one_headline_the_derived_loss_and_the_rest_exploratory():
    """Held-out bits per byte is the one pre-registered headline; word perplexity on every set is the same loss as
    that set's bits per byte (derived), another set's bits per byte and the tasks are exploratory."""
    rows = []
    for measure, set_name, metric in [("perplexity", "heldout", "bits_per_byte"),
                                      ("perplexity", "heldout", "word_perplexity"),
                                      ("perplexity", "ood", "bits_per_byte"), ("perplexity", "ood", "word_perplexity"),
                                      ("downstream", "average", "acc")]:
        rows += rows_of("replace", measure, set_name, metric, [[1.0, 1.1], [1.0, 1.2], [1.0, 1.3]])
    verdicts = verdict_rows(rows)
    roles = {(v["set"], v["metric"]): v["role"] for v in verdicts}
    assert roles == {("heldout", "bits_per_byte"): HEADLINE_ROLE, ("heldout", "word_perplexity"): DERIVED,
                     ("ood", "bits_per_byte"): EXPLORATORY, ("ood", "word_perplexity"): DERIVED,
                     ("average", "acc"): EXPLORATORY}
    # one loss, one finding: a derived row has no class of its own, in verdicts and in contrasts alike
    classes = [v["verdict"] for v in verdicts if v["role"] != DERIVED]
    assert classes == [NO_CHANGE] * 3 and {v["verdict"] for v in verdicts if v["role"] == DERIVED} == {SAME_LOSS}
    twice = rows + [{**r, "condition": "other"} for r in rows]
    assert {c["verdict"] for c in contrast_rows(twice) if c["role"] == DERIVED} == {SAME_LOSS}


def test_item_precision_and_task_items_from_round0():
    assert item_precision(0.5, 100) == pytest.approx((0.0979981992, 0.1981019906))
    base = {"m": {"downstream": {"last_word": {"acc": 0.1, "items": 500}, "minimal_pairs": {"acc": 0.6, "items": 400}}}}
    assert task_items(base) == {("m", "last_word"): 500, ("m", "minimal_pairs"): 400}


def test_verdict_csv_round_trip(tmp_path):
    rows = rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 2.5]])
    write_csv(tmp_path / "v.csv", VERDICT_COLUMNS, verdict_rows(rows, max_flip=0.2))
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0] == ",".join(VERDICT_COLUMNS)
    assert lines[1] == ("m,replace,self,headline,perplexity,heldout,bits_per_byte,lower,0,1,1,2.0,2.5,0.5,,,"
                        "one seed: no interval,,,0.2,,,")
    [back] = read_verdict(tmp_path / "v.csv")
    assert back["change"] == 0.5 and math.isnan(back["low"]) and back["verdict"] == ONE_SEED
    assert back["unstable_above"] == 0.2


def t_classes(changes: np.ndarray) -> np.ndarray:
    """+1 / -1 / 0 per row of simulated seed values: the 95% t test of their mean, written out here with numpy
    (not the module's code): the class a replicate experiment reports."""
    n = changes.shape[1]
    t = changes.mean(axis=1) / (changes.std(axis=1, ddof=1) / math.sqrt(n))
    crit = {2: T975_2, 3: 3.182446305284263, 4: 2.7764451051977987}[n - 1]
    return np.where(t > crit, 1, np.where(t < -crit, -1, 0))


SIGN = {DEGRADED: 1, IMPROVED: -1, NO_CHANGE: 0}  # of a change in bits per byte (lower is better)


@pytest.mark.parametrize("observed", [
    [0.030, 0.036, 0.045],   # degraded, t = 8.5: flips 2.8% (a replicate's sd may come out large enough)
    [0.010, 0.030, 0.060],   # no significant change, t = 2.3: flips 26%
    [0.020, 0.021, 0.060],   # no significant change, t = 2.6: flips 31%
    [-0.003, 0.001, 0.004],  # no significant change, t = 0.3: flips 5.5%, near the 5% floor
    [0.030, 0.036, 0.045, 0.041],  # 4 seeds, degraded far from the edge
])
def test_the_flip_probability_is_the_share_of_simulated_replicates_in_another_class(observed):
    """The unstable rule's stated coverage, checked on constructed replicates: 4000 experiments with as many seeds,
    drawn from the t model fitted to the observed seeds (normal, their mean and sd), classified by a plain t test;
    the share in another class than the observed one matches flip_probability within 3.5 binomial errors."""
    v = judge(observed, "lower")
    mean, sd, n = np.mean(observed), np.std(observed, ddof=1), len(observed)
    rng = np.random.default_rng(20261206)
    replicates = rng.normal(mean, sd, size=(4000, n))
    flipped = float(np.mean(t_classes(replicates) != SIGN[v["verdict"]]))
    p = v["flip_probability"]
    assert abs(flipped - p) <= 3.5 * math.sqrt(max(p * (1 - p), 0.01) / 4000), (flipped, p)


def test_a_verdict_is_unstable_exactly_when_more_than_the_stated_share_of_replicates_flips_it():
    """At the stated level (0.2), a verdict whose replicates flip it 20% of the time is the boundary: constructed
    with the noncentrality that makes P(degraded) = 0.8 at 3 seeds, simulated replicates flip it 20% +- noise;
    a slightly larger effect is stable, a slightly smaller one unstable, with the seeds it would need."""
    from scipy.optimize import brentq

    delta = brentq(lambda d: class_probabilities(d, 2)[0] - 0.8, 1, 50)
    spread = np.array([-1.0, 0.0, 1.0]) * 0.01  # sd 0.01, se 0.01 / sqrt(3)
    boundary = list(delta * 0.01 / math.sqrt(3) + spread)
    v = judge(boundary, "lower", max_flip=0.2)
    assert v["flip_probability"] == pytest.approx(0.2, abs=1e-6)
    rng = np.random.default_rng(7)
    flipped = float(np.mean(t_classes(rng.normal(np.mean(boundary), 0.01, size=(4000, 3))) != 1))
    assert abs(flipped - 0.2) < 3.5 * math.sqrt(0.16 / 4000)
    stable = judge([c + 0.001 for c in boundary], "lower", max_flip=0.2)
    unstable = judge([c - 0.001 for c in boundary], "lower", max_flip=0.2)
    assert (stable["verdict"], stable["seeds_needed"]) == (DEGRADED, "")
    assert unstable["verdict"] == UNSTABLE and unstable["flip_probability"] > 0.2
    # the seeds a stable verdict needs under the fitted model: settled there, not one seed before
    m, mean = unstable["seeds_needed"], np.mean(boundary) - 0.001
    assert m == 4 and settled(*class_probabilities(mean / (0.01 / math.sqrt(m)), m - 1), 0.2)
    assert not settled(*class_probabilities(mean / (0.01 / math.sqrt(3)), 2), 0.2)


def test_an_unstable_small_effect_says_how_many_seeds_would_settle_it():
    changes = [0.0, 0.01, 0.03]  # mean 0.0133, sd 0.0153: no significant change at 3 seeds, flips 15%
    v = judge(changes, "lower", max_flip=0.1)
    assert v["verdict"] == UNSTABLE and 0.1 < v["flip_probability"] < 0.5
    m = v["seeds_needed"]
    mean, sd = np.mean(changes), np.std(changes, ddof=1)
    def at(k):
        return class_probabilities(mean / (sd / math.sqrt(k)), k - 1)

    assert settled(*at(m), 0.1) and not settled(*at(m - 1), 0.1) and m > 3
    # at m seeds the class is degraded (above zero), and a replicate flips it at most 10% of the time
    assert flip_probability(*at(m), 1) <= 0.1


def test_a_contrast_is_the_difference_of_last_round_means_with_welchs_interval():
    """Hand computation: a = 1.0, 1.2, 1.4 (sd 0.2), b = 2.0, 2.1, 2.2 (sd 0.1): difference -0.9, squared standard
    errors 0.04/3 and 0.01/3, se sqrt(0.05/3), Welch df (0.05/3)^2 / ((0.04/3)^2/2 + (0.01/3)^2/2) = 50/17."""
    from scipy.stats import t

    c = contrast([1.0, 1.2, 1.4], [2.0, 2.1, 2.2], "lower")
    se, df = math.sqrt(0.05 / 3), 50 / 17
    half = t.ppf(0.975, df) * se
    assert c["difference"] == pytest.approx(-0.9) and c["df"] == pytest.approx(df)
    assert (c["low"], c["high"]) == pytest.approx((-0.9 - half, -0.9 + half))
    assert c["verdict"] == BETTER  # a's bits per byte lower than b's beyond the interval
    assert contrast([2.0, 2.1, 2.2], [1.0, 1.2, 1.4], "lower")["verdict"] == WORSE
    assert contrast([1.0, 1.2, 1.4], [1.1, 1.2, 1.3], "lower")["verdict"] == NO_DIFFERENCE
    assert contrast([1.0], [1.1, 1.2], "lower")["verdict"] == ONE_SEED


def test_contrasts_compare_every_condition_with_the_control_and_each_pair(tmp_path):
    """Constructed runs of three conditions: the control (generator none) is subtracted from each of the others,
    and the others are compared pairwise (first name minus second), at the last round; the control has no
    diversity, so no diversity contrast with it."""
    bpb = ("perplexity", "heldout", "bits_per_byte")
    rows = rows_of("replace", *bpb, [[2.0, 2.10, 2.20], [2.0, 2.12, 2.21], [2.0, 2.11, 2.19]])
    rows += rows_of("distill", *bpb, [[2.0, 2.02, 2.03], [2.0, 2.03, 2.05], [2.0, 2.02, 2.04]])
    rows += rows_of("realonly", *bpb, [[2.0, 2.02, 2.02], [2.0, 2.01, 2.03], [2.0, 2.02, 2.01]])
    div = ("diversity", "generated", "distinct_2")
    rows += [r for r in rows_of("replace", *div, [[None, 0.7, 0.6]] * 3) if r["round"]]
    rows += [r for r in rows_of("distill", *div, [[None, 0.7, 0.7]] * 3) if r["round"]]
    rows += [{**r, "condition": "-", "model": "teacher"} for r in rows_of("x", *bpb, [[1.9]])]  # a teacher's round 0
    generators = {"replace": "self", "distill": "teacher", "realonly": "none"}
    got = {(c["condition"], c["versus"], c["kind"], c["metric"]): c for c in contrast_rows(rows, generators, 0.2)}
    assert set(got) == {("distill", "realonly", "control", "bits_per_byte"),
                        ("replace", "realonly", "control", "bits_per_byte"),
                        ("distill", "replace", "pair", "bits_per_byte"), ("distill", "replace", "pair", "distinct_2")}
    pair = got["distill", "replace", "pair", "bits_per_byte"]
    # last round: distill 2.03, 2.05, 2.04 (mean 2.04, sd 0.01); replace 2.20, 2.21, 2.19 (mean 2.20, sd 0.01)
    se = math.sqrt(2 * 0.01 ** 2 / 3)
    assert (pair["mean"], pair["versus_mean"]) == (pytest.approx(2.04), pytest.approx(2.2))
    assert (pair["round"], pair["n"]) == (2, 3)
    assert pair["difference"] == pytest.approx(-0.16) and pair["df"] == pytest.approx(4.0)
    assert pair["high"] == pytest.approx(-0.16 + 2.7764451051977987 * se) and pair["verdict"] == BETTER
    control = got["replace", "realonly", "control", "bits_per_byte"]
    assert control["difference"] == pytest.approx(0.18) and control["verdict"] == WORSE
    # distill 2.04 against the control's 2.02 (sd 0.01): +0.02, se 0.00816, t 2.45 < 2.78
    assert got["distill", "realonly", "control", "bits_per_byte"]["verdict"] in (NO_DIFFERENCE, UNSTABLE)
    # zero spread on both sides: a difference without error
    assert got["distill", "replace", "pair", "distinct_2"]["difference"] == pytest.approx(0.1)
    write_csv(tmp_path / "c.csv", CONTRAST_COLUMNS, list(got.values()))
    back = {(c["condition"], c["versus"], c["metric"]): c for c in read_verdict(tmp_path / "c.csv")}
    assert back["distill", "replace", "bits_per_byte"]["difference"] == pytest.approx(-0.16)
    # the verdict of each condition names who writes its corpus; the teacher's round 0 alone has none
    assert {(v["condition"], v["generator"]) for v in verdict_rows(rows, generators=generators)} == {
        ("replace", "self"), ("distill", "teacher"), ("realonly", "none")}


def welch_classes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """+1 / -1 / 0 per row pair: Welch's 95% test of mean(a) - mean(b), written out with numpy and scipy's t."""
    from scipy.stats import t

    va, vb = a.var(axis=1, ddof=1) / a.shape[1], b.var(axis=1, ddof=1) / b.shape[1]
    df = (va + vb) ** 2 / (va ** 2 / (a.shape[1] - 1) + vb ** 2 / (b.shape[1] - 1))
    stat = (a.mean(axis=1) - b.mean(axis=1)) / np.sqrt(va + vb)
    crit = t.ppf(0.975, df)
    return np.where(stat > crit, 1, np.where(stat < -crit, -1, 0))


@pytest.mark.parametrize("a, b", [
    ([2.26, 2.27, 2.25], [2.25, 2.24, 2.26]),  # +0.01, t 1.2: no significant difference
    ([2.28, 2.30, 2.27], [2.25, 2.24, 2.26]),  # +0.033, t 4.0 on ~3.5 df: worse, flips about a third of the time
    ([2.26, 2.27, 2.25], [2.30, 2.40, 2.20]),  # unequal spreads: Welch's degrees of freedom near 2
])
def test_a_contrasts_flip_probability_is_the_share_of_simulated_replicate_pairs_in_another_class(a, b):
    """The contrast's flip probability averages a replicate's class probabilities over draws of its two variances,
    the same model as the simulation, its variances drawn 20000 times: simulated replicate pairs from the fitted
    normals (4000, another fixed seed), classified by Welch's test, land in another class at that rate within 3.5
    binomial errors plus 0.01 (the draws' own error)."""
    c = contrast(a, b, "lower")
    rng = np.random.default_rng(11)
    ra = rng.normal(np.mean(a), np.std(a, ddof=1), size=(4000, len(a)))
    rb = rng.normal(np.mean(b), np.std(b, ddof=1), size=(4000, len(b)))
    sign = {WORSE: 1, BETTER: -1, NO_DIFFERENCE: 0}[c["verdict"]]
    flipped = float(np.mean(welch_classes(ra, rb) != sign))
    p = c["flip_probability"]
    assert abs(flipped - p) <= 3.5 * math.sqrt(max(p * (1 - p), 0.01) / 4000) + 0.01, (flipped, p)
