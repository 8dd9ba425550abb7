"""The reading, computed from constructed runs: the headline by name (held-out bits per byte) with the teacher's
advantage, each condition's change, the control and the contrasts; then the exploratory findings, each counted once;
the same text whatever the order of the CSV rows."""

import random

from selftrain.reading import metric_label, reading
from selftrain.report import write_csv
from selftrain.verdict import CONTRAST_COLUMNS, VERDICT_COLUMNS, answer, read_verdict

BPB, WP = ("perplexity", "heldout", "bits_per_byte"), ("perplexity", "heldout", "word_perplexity")
ACC = ("downstream", "average", "acc")
GENERATORS = {"replace": "self", "distill": "teacher", "realonly": "none"}


def rows_of(cond, key, values, model="tiny"):
    """Summary rows of one condition: values[seed] = [value at round 0, 1, ...]."""
    return [{"model": model, "condition": cond, "seed": s, "round": r, "measure": key[0], "set": key[1],
             "metric": key[2], "value": v} for s, per_round in enumerate(values) for r, v in enumerate(per_round)]


def run(seeds=3):
    """Summary rows of replace, distill (a teacher writes) and the control realonly, 2 rounds; the teacher's round 0
    as condition '-'."""
    last = {"replace": [2.30, 2.31, 2.29], "distill": [2.26, 2.27, 2.25], "realonly": [2.25, 2.24, 2.26]}
    acc = {"replace": [0.60, 0.61, 0.59], "distill": [0.62, 0.60, 0.61], "realonly": [0.63, 0.63, 0.64]}
    rows = []
    for cond in last:
        rows += rows_of(cond, BPB, [[2.2, 2.25, last[cond][s]] for s in range(seeds)])
        rows += rows_of(cond, WP, [[5000.0, 5500.0, 5000.0 * 2 ** (last[cond][s] - 2.2)] for s in range(seeds)])
        rows += rows_of(cond, ACC, [[0.62, 0.62, acc[cond][s]] for s in range(seeds)])
    rows += rows_of("-", BPB, [[2.05]], model="teacher")
    return rows


def read(rows):
    verdicts, contrasts = answer(rows, {}, GENERATORS, 0.2)
    return reading(verdicts, contrasts, rows)


def test_the_reading_gives_the_headline_the_control_and_the_contrast_of_several_conditions():
    text = read(run())
    # hand computation: last-round bits per byte means replace 2.30, distill 2.26, realonly 2.25 (sd 0.01 each),
    # changes +0.1, +0.06, +0.05 from the shared 2.2; distill - replace = -0.04, Welch se sqrt(2 * 0.0001 / 3) with
    # 4 degrees of freedom: half-width 2.776 * 0.008165 = 0.0227; word perplexity 5000 * 2^0.06 - 5000 = +212;
    # replace - realonly in accuracy: -0.0333, se sqrt(0.0001/3 + 0.0000333/3) = 0.00667 on 3.2 Welch degrees of
    # freedom; distill - realonly in accuracy (-0.0233, t 3.5) flips too often (unstable) to be told
    assert text == (
        "Model tiny, rounds 0 to 2, 3 seeds per condition; control: realonly (real held-in text only, nothing "
        "generated).\n\n"
        "Intervals are 95% Student t over seeds: round 0 is one checkpoint shared by every seed, so a change from it "
        "carries the last round's spread (diversity, from each seed's own round 1, is paired by seed); between "
        "conditions, Welch's. Classes: improved or degraded (better or worse against another condition) when the "
        "interval excludes zero, no significant change (difference) when it does not. Unstable: a fresh replicate "
        "with as many new seeds would land in another class with probability above 0.2 (under the t model fitted to "
        "the seeds).\n\n"
        "**The headline: held-out bits per byte** (lower is better; pre-registered; word perplexity, the same loss, "
        "in parentheses):\n\n"
        "- The teacher's advantage at round 0: teacher (it writes the corpus of distill) is at 2.05, the student "
        "tiny at 2.2: -0.15.\n"
        "- Change from round 0 to round 2:\n"
        "  - distill: +0.06 [+0.0352, +0.0848], degraded (word perplexity +212)\n"
        "  - realonly: +0.05 [+0.0252, +0.0748], degraded (word perplexity +176)\n"
        "  - replace: +0.1 [+0.0752, +0.125], degraded (word perplexity +359)\n"
        "- The recipe alone (the control realonly: the same continual training on real text only) changed it by "
        "+0.05 [+0.0252, +0.0748].\n"
        "- Against the control realonly at round 2:\n"
        "  - distill: +0.01 [-0.0127, +0.0327], no significant difference\n"
        "  - replace: +0.05 [+0.0273, +0.0727], worse\n"
        "- distill minus replace at round 2: -0.04 [-0.0627, -0.0173], better.\n"
        "  External intelligence (teacher writing the corpus, distill, instead of the model itself, replace) changed "
        "held-out bits per byte by -0.04 [-0.0627, -0.0173].\n\n"
        "**Exploratory** (each at 5%, uncorrected: with up to 1 metric per condition, about 0.05 false changes per "
        "condition are expected where nothing changed):\n\n"
        "- **distill**: no significant change: mean accuracy -0.01 [-0.0348, +0.0148].\n"
        "- **realonly**: unstable: mean accuracy +0.0133 [-0.00101, +0.0277] (a replicate flips it with probability "
        "0.565; about 4 seeds would settle it).\n"
        "- **replace**: unstable: mean accuracy -0.02 [-0.0448, +0.00484] (a replicate flips it with probability "
        "0.471; about 5 seeds would settle it). against realonly: mean accuracy -0.0333 [-0.0538, -0.0128], worse.\n")


def test_one_seed_reads_as_one_seed_with_its_headline():
    text = read(run(seeds=1))
    assert text.startswith("Model tiny, rounds 0 to 2, 1 seed per condition;") and "1 seeds" not in text
    assert "  - replace: +0.1, one seed, no interval (word perplexity +359)\n" in text
    assert "- distill minus replace at round 2: -0.04, one seed, no interval.\n" in text
    assert "the headline: ." not in text and "**The headline: held-out bits per byte**" in text


def test_the_reading_does_not_depend_on_the_order_of_the_csv_rows(tmp_path):
    """Verdicts and contrasts written in a shuffled order (the first row another metric than the headline) and read
    back give the same reading, headline first."""
    verdicts, contrasts = answer(run(), {}, GENERATORS, 0.2)
    expected = reading(verdicts, contrasts, run())
    shuffled_v, shuffled_c = verdicts[:], contrasts[:]
    random.Random(3).shuffle(shuffled_v)
    random.Random(4).shuffle(shuffled_c)
    shuffled_v.sort(key=lambda v: v["metric"] == "bits_per_byte")  # a non-headline row first
    write_csv(tmp_path / "v.csv", VERDICT_COLUMNS, shuffled_v)
    write_csv(tmp_path / "c.csv", CONTRAST_COLUMNS, shuffled_c)
    back_v, back_c = read_verdict(tmp_path / "v.csv"), read_verdict(tmp_path / "c.csv")
    assert back_v[0]["metric"] != "bits_per_byte"
    assert reading(back_v, back_c, run()) == expected
    assert reading(list(reversed(verdicts)), list(reversed(contrasts)), list(reversed(run()))) == expected


def test_each_finding_is_counted_once_among_several_metrics():
    """Word perplexity is the same loss as bits per byte: it appears beside it in parentheses, never as a finding of
    its own, and the exploratory count holds the other metrics only (here another set's bits per byte and the mean
    accuracy, its word perplexity folded in the same way)."""
    rows = run()
    for cond in GENERATORS:
        rows += rows_of(cond, ("perplexity", "ood", "bits_per_byte"), [[3.0, 3.0, 3.1 + s / 100] for s in range(3)])
        rows += rows_of(cond, ("perplexity", "ood", "word_perplexity"), [[900.0, 900.0, 990.0 + s] for s in range(3)])
    text = read(rows)
    assert "held-out word perplexity" not in text and "'ood' word perplexity" not in text
    assert text.count("(word perplexity +") == 3 + 3  # the headline's and 'ood' bits per byte's, per condition
    assert "with up to 2 metrics per condition, about 0.1 false changes" in text
    assert "- **replace**: degraded: 'ood' bits per byte +0.11 [+0.0852, +0.135] (word perplexity +91: the same " \
           "loss)." in text


def test_metric_labels_follow_the_readme():
    assert metric_label("perplexity", "ood", "word_perplexity") == "'ood' word perplexity"
    assert metric_label("diversity", "generated", "tail_survival") == "rare real words still used"
    assert metric_label("downstream", "last_word_choice", "acc") == "last_word_choice accuracy"
