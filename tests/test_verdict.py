import math

import pytest

from selftrain.report import write_csv
from selftrain.verdict import (DEGRADED, IMPROVED, NO_CHANGE, ONE_SEED, UNSTABLE, VERDICT_COLUMNS, interval_spreads,
                               item_precision, judge, read_verdict, spread_key, task_items, verdict_rows)

T975_2 = 4.302652729749464  # Student t, 0.975 quantile, 2 degrees of freedom (scipy.stats.t.ppf)


def rows_of(cond, measure, set_name, metric, values):
    """Summary rows of one condition: values[seed] = [value at round 0, 1, ...]."""
    return [{"model": "m", "condition": cond, "seed": s, "round": r, "measure": measure, "set": set_name,
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


def test_accuracy_that_rises_is_improved_and_carries_its_item_precision():
    rows = rows_of("accumulate", "downstream", "minimal_pairs", "acc", [[0.5, 0.6], [0.5, 0.62], [0.5, 0.64]])
    [v] = verdict_rows(rows, {("m", "minimal_pairs"): 400})
    assert v["verdict"] == IMPROVED and v["change"] == pytest.approx(0.12) and v["items"] == 400
    # 1.96 * sqrt(0.25 / 400) and (1.96 + 0.8416) * sqrt(2 * 0.25 / 400)
    assert v["item_halfwidth"] == pytest.approx(0.04899909961)
    assert v["mdc"] == pytest.approx(0.09905099529)


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


def test_one_seed_has_a_change_but_no_interval_and_no_verdict():
    v = one(rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 2.5]]), metric="bits_per_byte")
    assert v["verdict"] == ONE_SEED and v["change"] == 0.5 and math.isnan(v["low"]) and math.isnan(v["high"])
    assert judge([0.5], "lower")[3] == ONE_SEED


def test_diversity_is_judged_from_the_first_generated_round_and_word_perplexity_is_a_second_row():
    rows = rows_of("replace", "diversity", "real", "distinct_2", [[0.9]] * 3)  # round 0: real text, not judged
    rows += [{**r, "set": "generated"} for r in rows_of("replace", "diversity", "g", "distinct_2",
                                                         [[None, 0.5, 0.4], [None, 0.5, 0.41], [None, 0.5, 0.39]])
             if r["round"] > 0]
    rows += rows_of("replace", "perplexity", "heldout", "word_perplexity", [[100.0, 90.0, 80.0]] * 3)
    div = one(rows, metric="distinct_2")
    assert (div["from_round"], div["start"], div["verdict"]) == (1, 0.5, DEGRADED)  # fewer distinct bigrams
    assert div["change"] == pytest.approx(-0.1) and div["items"] == ""
    wp = one(rows, metric="word_perplexity")
    # identical seeds: zero spread, the interval is the point and excludes zero
    assert (wp["change"], wp["low"], wp["high"], wp["verdict"]) == (-20.0, -20.0, -20.0, IMPROVED)


def test_item_precision_and_task_items_from_round0():
    assert item_precision(0.5, 100) == pytest.approx((0.0979981992, 0.1981019906))
    base = {"m": {"downstream": {"last_word": {"acc": 0.1, "items": 500}, "minimal_pairs": {"acc": 0.6, "items": 400}}}}
    assert task_items(base) == {("m", "last_word"): 500, ("m", "minimal_pairs"): 400}


def test_verdict_csv_round_trip(tmp_path):
    rows = rows_of("replace", "perplexity", "heldout", "bits_per_byte", [[2.0, 2.5]])
    write_csv(tmp_path / "v.csv", VERDICT_COLUMNS, verdict_rows(rows))
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0] == ",".join(VERDICT_COLUMNS)
    assert lines[1] == "m,replace,perplexity,heldout,bits_per_byte,lower,0,1,1,2.0,2.5,0.5,,,one seed: no interval,,,,"
    [back] = read_verdict(tmp_path / "v.csv")
    assert back["change"] == 0.5 and math.isnan(back["low"]) and back["verdict"] == ONE_SEED


def test_a_bound_within_the_kernel_spread_of_zero_is_unstable():
    """Constructed changes: a verdict another machine could flip, because an interval bound lies within the
    measured kernel spread of zero, is unstable, whichever verdict the interval alone gives."""
    half = T975_2 * 0.01 / math.sqrt(3)  # sd 0.01 over 3 seeds
    # degraded, its lower bound 0.03 - half = 0.0052 above zero
    degraded = [[2.0, 2.02], [2.0, 2.03], [2.0, 2.04]]
    # no significant change: changes -0.01, 0, +0.01, bounds +-half = +-0.0248
    flat = [[2.0, 1.99], [2.0, 2.0], [2.0, 2.01]]
    rows = rows_of("a", "perplexity", "heldout", "bits_per_byte", degraded) + \
        rows_of("b", "perplexity", "heldout", "bits_per_byte", flat)
    key = spread_key("perplexity", "heldout", "bits_per_byte")
    plain = {v["condition"]: v for v in verdict_rows(rows)}
    assert plain["a"]["verdict"] == DEGRADED and plain["a"]["low"] == pytest.approx(0.03 - half)
    assert plain["b"]["verdict"] == NO_CHANGE and plain["b"]["high"] == pytest.approx(half)
    assert math.isnan(plain["a"]["kernel_spread"])
    # a spread below 0.0052: the degraded verdict holds; the flat one's bounds +-0.0248 are beyond it too
    small = {v["condition"]: v for v in verdict_rows(rows, spreads={key: 0.005})}
    assert (small["a"]["verdict"], small["b"]["verdict"], small["a"]["kernel_spread"]) == (DEGRADED, NO_CHANGE, 0.005)
    # 0.006: another machine could move the lower bound to zero or below
    assert {v["condition"]: v["verdict"] for v in verdict_rows(rows, spreads={key: 0.006})} == {
        "a": UNSTABLE, "b": NO_CHANGE}
    # 0.025: the flat interval could come to exclude zero on another machine
    assert {v["condition"]: v["verdict"] for v in verdict_rows(rows, spreads={key: 0.025})} == {
        "a": UNSTABLE, "b": UNSTABLE}
    # a metric without a measured spread keeps its plain verdict; one seed has no interval to judge
    assert {v["verdict"] for v in verdict_rows(rows, spreads={"perplexity/heldout/word_perplexity": 1.0})} == {
        DEGRADED, NO_CHANGE}
    assert judge([0.5], "lower", spread=1.0)[3] == ONE_SEED
    file = {"tolerances": {key: {"round0": 0.001, "last_round": 0.01, "interval_bounds": 0.006}}}
    assert interval_spreads(file) == {key: 0.006} and interval_spreads(None) == {}
