"""The reading, computed from constructed verdicts: every condition's findings grouped by verdict, then the
headline metric across conditions."""

import math

from selftrain.reading import metric_label, reading
from selftrain.verdict import DEGRADED, IMPROVED, NO_CHANGE, UNSTABLE


def row(cond, measure, set_name, metric, change, low, high, verdict):
    return {"model": "tiny", "condition": cond, "measure": measure, "set": set_name, "metric": metric,
            "change": change, "low": low, "high": high, "verdict": verdict, "n": "3", "to_round": "3"}


VERDICTS = [
    row("replace", "perplexity", "heldout", "bits_per_byte", 0.0952, 0.0897, 0.101, DEGRADED),
    row("replace", "downstream", "average", "acc", -0.0088, -0.0162, -0.0014, UNSTABLE),
    row("replace", "diversity", "generated", "self_bleu", 0.0129, -0.002, 0.03, NO_CHANGE),
    row("teacher", "perplexity", "heldout", "bits_per_byte", -0.031, -0.04, -0.022, IMPROVED),
    row("teacher", "downstream", "minimal_pairs", "acc", 0.01, -0.02, 0.04, NO_CHANGE),
]


def test_the_reading_tells_each_condition_by_verdict_and_the_headline_across_conditions():
    assert reading(VERDICTS) == (
        "Model tiny, rounds 0 to 3 (3 seeds; change of the mean over seeds, 95% interval paired by seed; diversity "
        "from round 1):\n"
        "\n"
        "- **replace**: degraded: held-out bits per byte +0.0952 [+0.0897, +0.101]. unstable (the measured kernel "
        "spread could flip it): mean accuracy -0.0088 [-0.0162, -0.0014]. no significant change: self-BLEU-4 of the "
        "generated text +0.0129 [-0.002, +0.03].\n"
        "- **teacher**: improved: held-out bits per byte -0.031 [-0.04, -0.022]. no significant change: "
        "minimal_pairs accuracy +0.01 [-0.02, +0.04].\n"
        "\n"
        "On held-out bits per byte, the headline: degraded: replace (+0.0952); improved: teacher (-0.031).\n")


def test_a_change_without_an_interval_is_told_without_one():
    one = [row("replace", "perplexity", "heldout", "bits_per_byte", 0.5, math.nan, math.nan, "one seed: no interval")]
    assert "one seed, no interval: held-out bits per byte +0.5." in reading(one)


def test_metric_labels_follow_the_readme():
    assert metric_label("perplexity", "ood", "word_perplexity") == "'ood' word perplexity"
    assert metric_label("diversity", "generated", "tail_survival") == "rare real words still used"
    assert metric_label("downstream", "last_word_choice", "acc") == "last_word_choice accuracy"
