import math
from pathlib import Path

import pytest

from selftrain.report import (interval_rows, mean_interval, plot_collapse, read_summary, series, summary_rows,
                              write_csv, write_summary, CI_COLUMNS, COLLAPSE_DIRECTION, LABELS)


def div(d2):
    return {"documents": 5, "words": 50, "distinct_1": 0.5, "distinct_2": d2, "distinct_3": 0.9, "rep_2": 0.1,
            "rep_4": 0.0, "self_bleu": 0.2, "unigram_entropy": 5.0, "compression_ratio": 2.0, "mean_length": 10.0,
            "tail_survival": 0.3, "tail_share": 0.01}


def ev(model, cond, seed, rnd, wppl, acc=0.5):
    return {"model": model, "condition": cond, "seed": seed, "round": rnd,
            "perplexity": {"heldout": {"word_perplexity": wppl, "byte_perplexity": 2.0, "bits_per_byte": 1.0, "documents": 3}},
            "downstream": {"last_word": {"acc": acc, "perplexity": 9.0, "items": 4},
                           "minimal_pairs": {"acc": 1.0, "items": 4}},
            "diversity": {"real": div(0.8)} if rnd == 0 else {"generated": div(0.6 + 0.01 * seed), "filtered": div(0.7)}}


BASE = {"m": ev("m", None, None, 0, 100.0)}
ROUNDS = [ev("m", "a", 0, 1, 120.0, 0.25), ev("m", "a", 1, 1, 140.0, 0.0),
          ev("m", "b", 0, 1, 110.0), ev("m", "b", 1, 1, 110.0)]
PER_EVAL = 3 + 1 + 2 + 1 + 11  # perplexity metrics, last_word acc+perplexity, minimal_pairs acc, average, diversity


def test_summary_rows_repeat_round0_per_branch_and_are_tidy():
    rows = summary_rows(BASE, ROUNDS, [("m", "a"), ("m", "b")], [0, 1])
    assert len(rows) == 8 * PER_EVAL + 4 * 11  # 4 branches x 2 rounds; rounds 1 have two corpora
    wp = [(r["condition"], r["seed"], r["round"], r["value"]) for r in rows if r["metric"] == "word_perplexity"]
    assert wp == [("a", 0, 0, 100.0), ("a", 0, 1, 120.0), ("a", 1, 0, 100.0), ("a", 1, 1, 140.0),
                  ("b", 0, 0, 100.0), ("b", 0, 1, 110.0), ("b", 1, 0, 100.0), ("b", 1, 1, 110.0)]
    avg = [r["value"] for r in rows if r["set"] == "average" and r["condition"] == "a" and r["round"] == 1]
    assert avg == [(0.25 + 1.0) / 2, (0.0 + 1.0) / 2]
    assert {r["measure"] for r in rows} == {"perplexity", "downstream", "diversity"}
    assert not [r for r in rows if r["metric"] in ("documents", "words", "items")]


def test_a_model_no_condition_trains_has_its_round0_alone():
    """A teacher (no condition trains it) is in the summary once, at round 0, under condition "-"; the figure
    draws only the trained models."""
    base = {**BASE, "teacher": ev("teacher", None, None, 0, 50.0)}
    rows = summary_rows(base, ROUNDS, [("m", "a"), ("m", "b")], [0, 1])
    teacher = [r for r in rows if r["model"] == "teacher"]
    assert len(teacher) == PER_EVAL - 11 + 11  # round 0: the real text's diversity, one corpus
    assert {(r["condition"], r["seed"], r["round"]) for r in teacher} == {("-", 0, 0)}
    assert [r["value"] for r in teacher if r["metric"] == "word_perplexity"] == [50.0]
    assert len(rows) == 8 * PER_EVAL + 4 * 11 + len(teacher)


def test_mean_interval_is_a_student_t_interval():
    mean, low, high = mean_interval([1.0, 3.0])
    # sd = sqrt(2), t(0.975, 1) = 12.7062047..., half = t * sd / sqrt(2) = t
    assert mean == 2.0 and (low, high) == pytest.approx((2.0 - 12.706204736, 2.0 + 12.706204736))
    mean, low, high = mean_interval([5.0, 5.0, 5.0])
    assert (mean, low, high) == (5.0, 5.0, 5.0)
    mean, low, high = mean_interval([4.0])
    assert mean == 4.0 and math.isnan(low) and math.isnan(high)


def test_summary_csv_roundtrip_and_series(tmp_path):
    rows = summary_rows(BASE, ROUNDS, [("m", "a"), ("m", "b")], [0, 1])
    write_summary(tmp_path / "s.csv", rows)
    text = (tmp_path / "s.csv").read_text()
    assert text.splitlines()[0] == "model,condition,seed,round,measure,set,metric,value"
    assert "m,a,1,1,perplexity,heldout,word_perplexity,140.0" in text.splitlines()
    back = read_summary(tmp_path / "s.csv")
    assert back == rows
    s = series(back, "m", "perplexity", ("heldout",), "word_perplexity")
    assert [p[:2] for p in s["a"]] == [(0, 100.0), (1, 130.0)] and s["a"][0][2:] == (100.0, 100.0)
    assert s["a"][1][2:] == pytest.approx((130.0 - 127.06204736, 130.0 + 127.06204736))
    assert s["b"] == [(0, 100.0, 100.0, 100.0), (1, 110.0, 110.0, 110.0)]
    # diversity runs from the real text at round 0 to the generated text of each round
    assert [p[:2] for p in series(back, "m", "diversity", ("real", "generated"), "distinct_2")["a"]] == [
        (0, 0.8), (1, pytest.approx(0.605))]


def test_interval_csv_leaves_the_one_seed_interval_empty(tmp_path):
    rows = summary_rows(BASE, ROUNDS[:1], [("m", "a")], [0])
    write_csv(tmp_path / "ci.csv", CI_COLUMNS, interval_rows(rows))
    lines = (tmp_path / "ci.csv").read_text().splitlines()
    assert lines[0] == "model,condition,round,measure,set,metric,n,mean,low,high"
    assert "m,a,1,perplexity,heldout,word_perplexity,1,120.0,," in lines


def test_plot_writes_pages_and_png_with_the_summary_numbers(tmp_path):
    import matplotlib.pyplot as plt
    from pypdf import PdfReader

    rows = summary_rows(BASE, ROUNDS, [("m", "a"), ("m", "b")], [0, 1])
    write_summary(tmp_path / "s.csv", rows)
    captured = []
    orig = plt.Axes.plot

    def spy(self, *args, **kwargs):
        captured.append((self, kwargs.get("label"), list(args[0]), list(args[1])))
        return orig(self, *args, **kwargs)

    plt.Axes.plot = spy
    try:
        plot_collapse(read_summary(tmp_path / "s.csv"), tmp_path / "c.pdf", tmp_path / "c.png")
    finally:
        plt.Axes.plot = orig
    # every plotted point is the mean over seeds of summary.csv's rows for that panel, condition and round
    back = read_summary(tmp_path / "s.csv")

    def mean_of(cond, rnd, measure, sets, metric):
        v = [r["value"] for r in back if (r["condition"], r["round"], r["measure"], r["metric"]) == (cond, rnd, measure, metric)
             and r["set"] in sets]
        return sum(v) / len(v)

    panels = {"Word perplexity on held-out real text": ("perplexity", ("heldout",)),
              "Downstream: mean accuracy of 2 tasks": ("downstream", ("average",)),
              "Downstream task 'last_word'": ("downstream", ("last_word",)),
              "Downstream task 'minimal_pairs'": ("downstream", ("minimal_pairs",)),
              "Bits per byte on held-out real text": ("perplexity", ("heldout",)),
              **{f"Diversity of the generated text (collapse: {way})": ("diversity", ("generated",))
                 for way in ("up", "down")},
              "Diversity of the generated text": ("diversity", ("generated",))}  # words per document: no direction
    metric_of = {label: metric for metric, label in LABELS.items()}
    # a title's second line names a real-text value off the panel's scale: the panel is its first line
    lines = [(ax.get_title().split("\n")[0], metric_of[ax.get_ylabel()], label, x, y) for ax, label, x, y in captured]
    for title, metric, label, x, y in lines:
        assert y == [mean_of(label.replace(" ", "_"), rnd, *panels[title], metric) for rnd in x], (title, metric)
    assert {t for t, *_ in lines} == set(panels)
    assert ("Word perplexity on held-out real text", "word_perplexity", "a", [0, 1], [100.0, 130.0]) in lines
    assert ("Downstream: mean accuracy of 2 tasks", "acc", "b", [0, 1], [0.75, 0.75]) in lines
    # diversity: the generated text of rounds >= 1 only, one line per condition and metric (the real text is a
    # reference line); every metric with a known collapse direction names it in the title
    div = [line for line in lines if line[1] in COLLAPSE_DIRECTION]
    assert len(div) == 2 * 10 and all(x == [1] for *_, x, _ in div)
    assert len([line for line in lines if line[0].startswith("Diversity")]) == 2 * 11
    assert len(PdfReader(tmp_path / "c.pdf").pages) == 3
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = (tmp_path / "c.pdf").read_bytes()
    plot_collapse(rows, tmp_path / "c.pdf", tmp_path / "c.png")
    assert (tmp_path / "c.pdf").read_bytes() == first  # same numbers, same bytes


def written_first_page(rows, verdicts, tmp_path, contrasts=()):
    """What plot_collapse wrote: the text runs of the PDF's first page as {text: [(x, y)]} (pypdf's positions, in
    points from the lower left; a run that the PDF splits at a ligature is joined), and that page redrawn on a
    canvas, for the geometry a PDF's text does not hold, after checking that it gives the written PNG's bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pypdf import PdfReader

    from selftrain.report import _draw_page, _panels

    plot_collapse(rows, tmp_path / "c.pdf", tmp_path / "c.png", verdicts, contrasts)
    runs: dict = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            runs.setdefault((round(cm[4], 1), round(cm[5], 1)), []).append(text)

    PdfReader(tmp_path / "c.pdf").pages[0].extract_text(visitor_text=visit)
    texts: dict = {}
    for xy, parts in runs.items():
        texts.setdefault("".join(parts).strip(), []).append(xy)
    fig = _draw_page(plt, rows, sorted({r["model"] for r in rows if r["round"] > 0}), _panels(rows)[0], verdicts,
                     contrasts)
    png = io.BytesIO()
    fig.savefig(png, format="png", metadata={"Software": None}, dpi=150)
    assert png.getvalue() == (tmp_path / "c.png").read_bytes(), "the redrawn page is not the written one"
    fig.canvas.draw()
    return texts, fig, fig.canvas.get_renderer()


def test_an_olmes_tasks_gold_bits_per_byte_has_its_panel_beside_its_accuracy():
    from selftrain.report import _panels

    rows = [{"measure": "downstream", "set": s, "metric": k} for s, k in [
        ("average", "acc"), ("hellaswag:rc::olmes", "acc"), ("hellaswag:rc::olmes", "acc_per_char"),
        ("hellaswag:rc::olmes", "bpb"), ("gsm8k:gold_bpb::olmes", "bpb")]]
    page2 = [(sets, metric, title) for _, sets, metric, title, _ in _panels(rows)[1]]
    assert page2 == [(("hellaswag:rc::olmes",), "acc", "Downstream task 'hellaswag:rc::olmes'"),
                     (("gsm8k:gold_bpb::olmes",), "bpb", "'gsm8k:gold_bpb::olmes': gold answer's bits per byte"),
                     (("hellaswag:rc::olmes",), "bpb", "'hellaswag:rc::olmes': gold answer's bits per byte")]


def test_plot_puts_each_verdict_under_its_panel_and_the_real_reference_on_diversity(tmp_path):
    from selftrain.verdict import contrast_rows, verdict_rows

    rows = summary_rows(BASE, ROUNDS, [("m", "a"), ("m", "b")], [0, 1])
    generators = {"a": "self", "b": "none"}  # b stands for the real-data control
    verdicts, contrasts = verdict_rows(rows, generators=generators), contrast_rows(rows, generators)
    texts, fig, renderer = written_first_page(rows, verdicts, tmp_path, contrasts)
    # in the written PDF: the lines of the two boxes (bits per byte: a and b at +0; mean accuracy: a at -0.188,
    # b at +0), each hanging just below an x label of its own column, on the page
    xlabels = texts["self-training round (0 = base model)"]
    lines = {"a: no significant change, +0 [+0, +0]": 1, "vs b +0 [+0, +0] no significant difference": 1,
             "b: no significant change, +0 [+0, +0]": 2,
             "a: no significant change, -0.188 [-0.982, +0.607]": 1,
             "vs b -0.188 [-0.982, +0.607] no significant difference": 1}
    for line, count in lines.items():
        assert len(texts.get(line, [])) == count, (line, sorted(texts))
    for x, y in [xy for line in lines for xy in texts[line]]:
        assert y >= 0 and [1 for lx, ly in xlabels if abs(lx - x) < 60 and 0 < ly - y < 30], (x, y, xlabels)
    assert "(held-out real text: 0.8, off this scale)" in texts
    boxes = {ax.get_title(): [c for c in ax.get_children() if c.get_gid() == "verdict"] for ax in fig.axes}
    # bits per byte is 1.0 in every round: a zero change with zero spread is no significant change, and a is no
    # different from the control b at the last round
    [bpb] = boxes["Bits per byte on held-out real text"]
    assert bpb.get_text() == ("a: no significant change, +0 [+0, +0]\n  vs b +0 [+0, +0] no significant difference\n"
                              "b: no significant change, +0 [+0, +0]")
    # the boxes cover no data: each lies outside every panel's data area and label, inside the figure
    areas = [ax.get_window_extent(renderer) for ax in fig.axes if ax.axison]
    areas += [ax.xaxis.label.get_window_extent(renderer) for ax in fig.axes if ax.axison]  # and no axis label
    found = [b for bs in boxes.values() for b in bs]
    assert len(found) == 2  # bits per byte and mean accuracy (diversity starts at round 1, the last here)
    for box in found:
        extent = box.get_window_extent(renderer)
        assert not any(extent.overlaps(area) for area in areas), box.get_text()
        assert 0 <= extent.y0 and extent.y1 <= fig.bbox.y1
    # the real text's value on each diversity panel of the page: a line where it lies near the data (self-BLEU,
    # 0.2 against 0.2), the title where it lies far off (distinct bigrams, 0.8 against 0.6-0.61)
    refs = {ax.get_title(): [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_gid() == "real-reference"]
            for ax in fig.axes}
    assert refs["Diversity of the generated text (collapse: up)"] == [0.2]
    assert refs["Diversity of the generated text (collapse: down)\n(held-out real text: 0.8, off this scale)"] == []


def test_a_reference_far_from_the_data_is_named_in_the_title_not_drawn(tmp_path):
    """A real-text value far off the generated data (rare words: 0.07 against 0.012 in the default) would squash
    the data into a flat line: the title gives it instead, and the axis keeps the data's scale."""
    rows = summary_rows(BASE, ROUNDS, [("m", "a"), ("m", "b")], [0, 1])
    far = [dict(r, value=70.0) if (r["measure"], r["set"], r["metric"]) == ("diversity", "real", "tail_survival")
           else r for r in rows]
    texts, fig, _ = written_first_page(far, [], tmp_path)
    assert "(held-out real text: 70, off this scale)" in texts
    [ax] = [ax for ax in fig.axes if ax.get_ylabel() == LABELS["tail_survival"]]
    assert ax.get_title().endswith("(held-out real text: 70, off this scale)")
    assert [ln for ln in ax.get_lines() if ln.get_gid() == "real-reference"] == []
    assert ax.get_ylim()[1] < 1  # the data's own scale (0.3), not the reference's


def test_a_condition_keeps_its_colour_where_the_control_draws_no_line(tmp_path):
    """The control a (here: no diversity, as a condition that generates nothing) has no line on the diversity panels;
    b keeps its own colour and style there, the ones it has on the bits-per-byte panel."""
    rounds = [{**e, "diversity": {}} if e["condition"] == "a" else e for e in ROUNDS]
    rows = summary_rows(BASE, rounds, [("m", "a"), ("m", "b")], [0, 1])
    _, fig, _ = written_first_page(rows, [], tmp_path)
    styles = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() in ("a", "b"):
                styles.setdefault(line.get_label(), set()).add((line.get_color(), line.get_linestyle()))
    assert styles == {"a": {("C0", "-")}, "b": {("C1", "--")}}
    titles = {ax.get_title(): {l.get_label() for l in ax.get_lines()} for ax in fig.axes}
    assert "a" not in titles["Diversity of the generated text (collapse: down)"]


def test_the_recorded_runs_boxes_and_titles_stay_on_the_page(tmp_path):
    """The recorded default (docs/*-default.csv: three conditions, a control, real numbers of real widths): every
    verdict box and panel title lies inside the figure, left to right as well, and no box covers another panel or
    another box (a condition's contrast with the control on the same line as its verdict ran past its panel)."""
    from selftrain.report import read_summary
    from selftrain.verdict import read_verdict

    docs = Path(__file__).resolve().parents[1] / "docs"
    rows = read_summary(docs / "summary-default.csv")
    _, fig, renderer = written_first_page(rows, read_verdict(docs / "verdict-default.csv"), tmp_path,
                                          read_verdict(docs / "contrasts-default.csv"))
    page = fig.bbox
    boxes = [c for ax in fig.axes for c in ax.get_children() if c.get_gid() == "verdict"]
    assert len(boxes) == 5
    for item in boxes + [ax.title for ax in fig.axes if ax.axison]:
        e = item.get_window_extent(renderer)
        assert page.x0 <= e.x0 and e.x1 <= page.x1 and page.y0 <= e.y0 and e.y1 <= page.y1, item.get_text()
    extents = [b.get_window_extent(renderer) for b in boxes]
    areas = [ax.get_window_extent(renderer) for ax in fig.axes if ax.axison]
    for i, e in enumerate(extents):
        assert not any(e.overlaps(other) for j, other in enumerate(extents) if j != i), boxes[i].get_text()
        assert not any(e.overlaps(area) for area in areas), boxes[i].get_text()
