"""Aggregate eval.json files into a tidy summary.csv (+ mean and 95% interval over seeds) and plot collapse.pdf."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict

from .io import atomic_file, atomic_write_text

SUMMARY_COLUMNS = ("model", "condition", "seed", "round", "measure", "set", "metric", "value")
CI_COLUMNS = ("model", "condition", "round", "measure", "set", "metric", "n", "mean", "low", "high")
KEYS = ("model", "condition", "round", "measure", "set", "metric")
COUNTS = ("documents", "words", "items")  # sizes, not measurements: kept in eval.json, not in the summary
DOWNSTREAM_AVERAGE = ("average", "acc")  # set and metric of the mean accuracy over downstream tasks
# diversity is plotted for each round's generated corpus against the held-out real text as a reference line
REAL, GENERATED = "real", "generated"
LABELS = {
    "word_perplexity": "word perplexity", "byte_perplexity": "byte perplexity", "bits_per_byte": "bits per byte",
    "acc": "accuracy", "bpb": "gold answer's bits per byte", "perplexity": "perplexity of the target", "distinct_1": "distinct unigrams (share)",
    "distinct_2": "distinct bigrams (share)", "distinct_3": "distinct trigrams (share)",
    "rep_2": "repeated bigrams per document", "rep_4": "repeated 4-grams per document",
    "self_bleu": "self-BLEU-4 (higher = less diverse)", "unigram_entropy": "unigram entropy (bits)",
    "compression_ratio": "zlib compression ratio", "mean_length": "words per document",
    "tail_survival": "rare real words still used (share)", "tail_share": "tokens that are rare real words",
}


def _record_rows(ev: dict) -> list[tuple[str, str, str, float]]:
    """(measure, set, metric, value) of one eval.json: perplexity, downstream (+ average accuracy), diversity."""
    out = []
    for measure in ("perplexity", "downstream", "diversity"):
        for set_name, metrics in sorted(ev.get(measure, {}).items()):
            out += [(measure, set_name, m, float(v)) for m, v in sorted(metrics.items())
                    if m not in COUNTS and isinstance(v, (int, float))]
    # an aggregate block (olmes_core: "members") already averages tasks that have their own blocks
    accs = [m["acc"] for m in ev.get("downstream", {}).values()
            if isinstance(m.get("acc"), (int, float)) and "members" not in m]
    if accs:
        out.append(("downstream", *DOWNSTREAM_AVERAGE, sum(accs) / len(accs)))
    return out


# the condition of a model no condition trains (a teacher or scorer only): its round 0 stands alone in the summary
ROUND0_ONLY = "-"


def summary_rows(base_evals: dict[str, dict], round_evals: list[dict], branches: list[tuple[str, str]],
                 seeds: list[int]) -> list[dict]:
    """Tidy rows: one per model x condition x seed x round x measure x set x metric; round 0 repeats per branch
    ((model, condition) pairs) and seed. A model of no branch has one round-0 row per metric, condition "-"."""
    rows = []

    def emit(model, condition, seed, round_, ev):
        rows.extend({"model": model, "condition": condition, "seed": seed, "round": round_, "measure": measure,
                     "set": set_name, "metric": metric, "value": value}
                    for measure, set_name, metric, value in _record_rows(ev))

    trained = {m for m, _ in branches}
    for model, ev in sorted(base_evals.items()):
        for condition in sorted(c for m, c in branches if m == model):
            for seed in seeds:
                emit(model, condition, seed, 0, ev)
        if model not in trained:
            emit(model, ROUND0_ONLY, seeds[0], 0, ev)
    for ev in round_evals:
        emit(ev["model"], ev["condition"], ev["seed"], ev["round"], ev)
    rows.sort(key=lambda r: tuple(r[k] for k in SUMMARY_COLUMNS[:-1]))
    return rows


def t_critical(df: float, level: float = 0.95) -> float:
    """The two-sided Student-t quantile of a level: an interval is mean +- this x standard error."""
    from scipy.stats import t

    # float(): scipy returns numpy scalars, whose repr under numpy 2 is "np.float64(...)", not a number
    return float(t.ppf(0.5 + level / 2, df))


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; NaN for one value)."""
    n = len(values)
    mean = sum(values) / n
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan


def mean_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval over seeds; one value gives NaN bounds (no spread to measure)."""
    n = len(values)
    mean, sd = mean_sd(values)
    if n < 2:
        return mean, math.nan, math.nan
    half = t_critical(n - 1, level) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def interval_rows(rows: list[dict]) -> list[dict]:
    """One row per model x condition x round x measure x set x metric: seeds, mean, 95% t-interval."""
    acc = defaultdict(list)
    for r in rows:
        acc[tuple(r[k] for k in KEYS)].append(r["value"])
    out = []
    for key, values in sorted(acc.items()):
        mean, low, high = mean_interval(values)
        out.append({**dict(zip(KEYS, key)), "n": len(values), "mean": mean, "low": low, "high": high})
    return out


def _fmt(v) -> str:
    """Floats as repr (exact round trip), NaN as an empty cell."""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(float(v))
    return str(v)


def write_csv(path, columns, rows: list[dict]) -> None:
    """Atomically write rows as CSV with the given columns (floats exact, NaN empty)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(r[k]) for k in columns})
    atomic_write_text(path, buf.getvalue())


def write_summary(path, rows: list[dict]) -> None:
    """results/summary.csv from summary_rows()."""
    write_csv(path, SUMMARY_COLUMNS, [{**r, "value": float(r["value"])} for r in rows])


def read_summary(path) -> list[dict]:
    """summary.csv back as rows with int seed/round and float value."""
    with open(path, newline="") as f:
        return [{**r, "seed": int(r["seed"]), "round": int(r["round"]), "value": float(r["value"])}
                for r in csv.DictReader(f)]


def series(rows: list[dict], model: str, measure: str, sets: tuple[str, ...], metric: str
           ) -> dict[str, list[tuple[int, float, float, float]]]:
    """{condition: [(round, mean, low, high)]} over seeds, sorted by round; rows of any of `sets` count."""
    picked = [r for r in rows if r["model"] == model and r["measure"] == measure and r["set"] in sets
              and r["metric"] == metric]
    out = defaultdict(list)
    for r in interval_rows([{**r, "set": sets[0]} for r in picked]):
        out[r["condition"]].append((r["round"], r["mean"], r["low"], r["high"]))
    return {c: sorted(pts) for c, pts in sorted(out.items())}


# which way each headline diversity metric moves when the generated text collapses
COLLAPSE_DIRECTION = {"distinct_1": "down", "distinct_2": "down", "distinct_3": "down", "rep_2": "up", "rep_4": "up",
                      "self_bleu": "up", "unigram_entropy": "down", "compression_ratio": "up",
                      "tail_survival": "down", "tail_share": "down"}


def _panels(rows: list[dict]) -> list[list[tuple]]:
    """Pages of panels (measure, sets, metric, title, log scale): the headline page, then the appendix."""
    have = {(r["measure"], r["set"], r["metric"]) for r in rows}
    ppl_sets = sorted({s for m, s, _ in have if m == "perplexity"}, key=lambda s: (s != "heldout", s))
    tasks = sorted({s for m, s, _ in have if m == "downstream" and s != DOWNSTREAM_AVERAGE[0]})
    div_metrics = sorted({k for m, s, k in have if m == "diversity" and s == GENERATED})
    headline_div = [k for k in ("distinct_2", "self_bleu", "tail_survival") if k in div_metrics]

    def where(s):
        return "held-out real text" if s == "heldout" else f"real text '{s}'"

    def div_title(k):
        way = COLLAPSE_DIRECTION.get(k)
        return "Diversity of the generated text" + (f" (collapse: {way})" if way else "")

    # the headline perplexity is bits per byte: it does not depend on the tokenizer
    page1 = [("perplexity", (s,), "bits_per_byte", f"Bits per byte on {where(s)}", False) for s in ppl_sets]
    if ("downstream", *DOWNSTREAM_AVERAGE) in have:
        page1.append(("downstream", (DOWNSTREAM_AVERAGE[0],), "acc", f"Downstream: mean accuracy of {len(tasks)} tasks", False))
    page1 += [("diversity", (GENERATED,), k, div_title(k), False) for k in headline_div]
    page2 = [("downstream", (t,), "acc", f"Downstream task '{t}'", False) for t in tasks
             if ("downstream", t, "acc") in have]
    # OLMES tasks: the gold answer's bits per byte, which moves where a small model's accuracy sits at chance
    page2 += [("downstream", (t,), "bpb", f"'{t}': gold answer's bits per byte", False) for t in tasks
              if ("downstream", t, "bpb") in have]
    page2 += [("perplexity", (s,), "word_perplexity", f"Word perplexity on {where(s)}", True) for s in ppl_sets]
    page3 = [("diversity", (GENERATED,), k, div_title(k), False) for k in div_metrics if k not in headline_div]
    return [p for p in (page1, page2, page3) if p]


STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (1, 1)), "P")]


def _reference(rows, model, metric):
    """The diversity of the held-out real text (round 0's `real` corpus), or None."""
    vals = {r["value"] for r in rows if r["model"] == model and r["measure"] == "diversity" and r["set"] == REAL
            and r["metric"] == metric}
    return next(iter(vals)) if vals else None


def _verdict_text(verdicts, contrasts, model, measure, set_name, metric) -> str:
    """Per condition a line of its verdict and mean change [95% interval] from verdict.csv, and one of its
    difference from the real-data control at the last round [95% Welch interval] from contrasts.csv."""
    key = (model, measure, set_name, metric)
    lines = []
    for v in verdicts:
        if (v["model"], v["measure"], v["set"], v["metric"]) == key:
            ci = "" if math.isnan(v["low"]) else f" [{v['low']:+.3g}, {v['high']:+.3g}]"
            line = f"{v['condition'].replace('_', ' ')}: {v['verdict']}, {v['change']:+.3g}{ci}"
            for c in contrasts:
                if (c["model"], c["measure"], c["set"], c["metric"]) == key and c["kind"] == "control" \
                        and c["condition"] == v["condition"]:
                    ci = "" if math.isnan(c["low"]) else f" [{c['low']:+.3g}, {c['high']:+.3g}]"
                    # on a line of its own: both on one line run past a panel's width into the next panel's box
                    line += f"\n  vs {c['versus'].replace('_', ' ')} {c['difference']:+.3g}{ci} {c['verdict']}"
            lines.append(line)
    return "\n".join(lines)


def _reference_placement(pts_by_condition, ref) -> bool:
    """Whether a real-text reference value is drawn as a line: only when it lies within one data span of the
    plotted means and bands; further off, a line would squash the data into a flat band, so the panel's title
    gives the value instead."""
    values = [v for pts in pts_by_condition for p in pts for v in p[1:] if v is not None and not math.isnan(v)]
    if not values:
        return True
    lo, hi = min(values), max(values)
    span = max(hi - lo, 1e-9 * max(abs(lo), abs(hi), 1.0))
    return lo - span <= ref <= hi + span


def _draw_page(plt, rows, models, panels, verdicts=(), contrasts=(), ncols=3):
    """One figure: per model a block of panels, each metric vs round with a line per condition, seed bands,
    the real-text reference on diversity panels, and below each panel (outside its axes, so it covers no
    data) each condition's verdict."""
    nrows_per = math.ceil(len(panels) / ncols)
    # a condition keeps its colour and style on every panel, also where another has no line (the control: no diversity)
    conditions = sorted({r["condition"] for r in rows if r["round"] > 0})
    n_conditions = max(1, len(conditions))
    # each panel's verdict box sits under its x label: room for its lines (a condition's, and its contrast's)
    box_lines = n_conditions * (1 + bool(contrasts)) * bool(verdicts)
    panel_height = 3.6 + 0.11 * box_lines
    fig, axes = plt.subplots(nrows_per * len(models), ncols, figsize=(4.4 * ncols, panel_height * nrows_per * len(models)),
                             squeeze=False)
    for i, model in enumerate(models):
        for j in range(nrows_per * ncols):
            ax = axes[i * nrows_per + j // ncols][j % ncols]
            if j >= len(panels):
                ax.axis("off")
                continue
            measure, sets, metric, title, logy = panels[j]
            lines = series(rows, model, measure, sets, metric)
            for cond, pts in lines.items():
                k = conditions.index(cond)
                ls, marker = STYLES[k % len(STYLES)]
                x = [p[0] for p in pts]
                line, = ax.plot(x, [p[1] for p in pts], linestyle=ls, marker=marker, color=f"C{k}",
                                label=cond.replace("_", " "))
                if any(p[3] > p[2] for p in pts):
                    ax.fill_between(x, [p[2] for p in pts], [p[3] for p in pts], color=line.get_color(), alpha=0.2,
                                    hatch="//" if k % 2 else None)
            if measure == "diversity" and (ref := _reference(rows, model, metric)) is not None:
                if _reference_placement(lines.values(), ref):
                    ax.axhline(ref, color="k", linestyle=":", linewidth=1, gid="real-reference")
                    ax.annotate("held-out real text", (0, ref), xycoords=("axes fraction", "data"), fontsize=7,
                                xytext=(2, 2), textcoords="offset points")
                else:
                    title += f"\n(held-out real text: {ref:.3g}, off this scale)"
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel("self-training round (0 = base model)")
            ax.set_ylabel(LABELS.get(metric, metric.replace("_", " ")))
            ax.set_title(f"{title} ({model})" if len(models) > 1 else title, fontsize=9)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
            text = _verdict_text(verdicts, contrasts, model, measure, sets[0], metric)
            if text:
                # under the x label (placed at draw time, its bottom edge): outside the data area and the label
                ax.annotate(text, xy=(0, 0), xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -3),
                            textcoords="offset points",
                            fontsize=6, va="top", ha="left", gid="verdict",
                            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), fontsize=8,
               title="condition (shaded: 95% interval over seeds; box below each panel: verdict, change from round 0 "
                     "to the last [95% interval over seeds]; vs the real-data control at the last round [95% Welch "
                     "interval])",
               title_fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    return fig


def plot_collapse(rows: list[dict], pdf_path, png_path, verdicts: list[dict] = (), contrasts: list[dict] = ()
                  ) -> None:
    """collapse.pdf: page 1 bits per byte, mean downstream accuracy and diversity vs round, with the verdicts
    of verdict.csv and the contrasts with the control of contrasts.csv; appendix pages per task, word perplexity and the other diversity metrics. The PNG is page 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in rows if r["round"] > 0})  # a teacher's round 0 alone draws no line
    figs = [_draw_page(plt, rows, models, panels, verdicts, contrasts) for panels in _panels(rows)]
    try:
        _save(figs, pdf_path, png_path)
    finally:
        for fig in figs:
            plt.close(fig)


def _save(figs, pdf_path, png_path) -> None:
    """Save atomically; no creation date, so the same numbers give the same bytes."""
    from matplotlib.backends.backend_pdf import PdfPages

    with atomic_file(pdf_path) as tmp, PdfPages(tmp, metadata={"CreationDate": None}) as pdf:
        for fig in figs:
            pdf.savefig(fig)
    with atomic_file(png_path) as tmp:
        figs[0].savefig(tmp, format="png", metadata={"Software": None}, dpi=150)


def load_eval(path) -> dict:
    """An eval.json; a non-finite measurement is an error naming the file."""
    with open(path) as f:
        ev = json.load(f)
    for measure in ("perplexity", "downstream", "diversity"):
        for m in ev.get(measure, {}).values():
            for v in m.values():
                if isinstance(v, float) and not math.isfinite(v):
                    raise ValueError(f"{path}: non-finite metric")
    return ev
