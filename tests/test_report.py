import pytest

from selftrain.report import plot_collapse, read_summary, series, summary_rows, write_summary


def ev(model, cond, seed, rnd, wppl):
    return {"model": model, "condition": cond, "seed": seed, "round": rnd,
            "perplexity": {"heldout": {"word_perplexity": wppl, "byte_perplexity": 2.0, "bits_per_byte": 1.0, "documents": 3}}}


BASE = {"m": ev("m", None, None, 0, 100.0)}
ROUNDS = [ev("m", "a", 0, 1, 120.0), ev("m", "a", 1, 1, 140.0), ev("m", "b", 0, 1, 110.0), ev("m", "b", 1, 1, 110.0)]


def test_summary_rows_repeat_round0_per_branch_and_are_tidy():
    rows = summary_rows(BASE, ROUNDS, ["a", "b"], [0, 1])
    assert len(rows) == (4 + 4) * 3  # 4 branches x (round 0 + round 1) x 3 metrics
    wp = [(r["condition"], r["seed"], r["round"], r["value"]) for r in rows if r["metric"] == "word_perplexity"]
    assert wp == [("a", 0, 0, 100.0), ("a", 0, 1, 120.0), ("a", 1, 0, 100.0), ("a", 1, 1, 140.0),
                  ("b", 0, 0, 100.0), ("b", 0, 1, 110.0), ("b", 1, 0, 100.0), ("b", 1, 1, 110.0)]


def test_summary_csv_roundtrip_and_series(tmp_path):
    rows = summary_rows(BASE, ROUNDS, ["a", "b"], [0, 1])
    write_summary(tmp_path / "s.csv", rows)
    text = (tmp_path / "s.csv").read_text()
    assert text.splitlines()[0] == "model,condition,seed,round,set,metric,value"
    assert "m,a,1,1,heldout,word_perplexity,140.0" in text.splitlines()
    back = read_summary(tmp_path / "s.csv")
    assert back == rows
    assert series(back, "m", "heldout", "word_perplexity") == {
        "a": [(0, 100.0, 100.0, 100.0), (1, 130.0, 120.0, 140.0)],
        "b": [(0, 100.0, 100.0, 100.0), (1, 110.0, 110.0, 110.0)],
    }


def test_plot_writes_pdf_and_png_with_the_summary_numbers(tmp_path):
    import matplotlib.pyplot as plt
    from pypdf import PdfReader

    rows = summary_rows(BASE, ROUNDS, ["a", "b"], [0, 1])
    captured = []
    orig = plt.Axes.plot

    def spy(self, *args, **kwargs):
        captured.append((kwargs.get("label"), list(args[0]), list(args[1])))
        return orig(self, *args, **kwargs)

    plt.Axes.plot = spy
    try:
        plot_collapse(rows, tmp_path / "c.pdf", tmp_path / "c.png")
    finally:
        plt.Axes.plot = orig
    assert ("a", [0, 1], [100.0, 130.0]) in captured and ("b", [0, 1], [100.0, 110.0]) in captured
    assert len(PdfReader(tmp_path / "c.pdf").pages) == 1
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = (tmp_path / "c.pdf").read_bytes()
    plot_collapse(rows, tmp_path / "c.pdf", tmp_path / "c.png")
    assert (tmp_path / "c.pdf").read_bytes() == first  # same numbers, same bytes
