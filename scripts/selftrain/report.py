"""Aggregate eval.json files into a tidy summary.csv and plot collapse.pdf from it."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict

from .io import atomic_write_text

SUMMARY_COLUMNS = ("model", "condition", "seed", "round", "set", "metric", "value")
PLOTTED = (("word_perplexity", "held-out word perplexity", True), ("bits_per_byte", "held-out bits per byte", False))


def summary_rows(base_evals: dict[str, dict], round_evals: list[dict], conditions: list[str], seeds: list[int]) -> list[dict]:
    """Tidy rows: one per model x condition x seed x round x set x metric; round 0 repeats per branch."""
    rows = []

    def emit(model, condition, seed, round_, ev):
        for set_name, metrics in sorted(ev["perplexity"].items()):
            for metric, value in sorted(metrics.items()):
                if isinstance(value, (int, float)) and metric != "documents":
                    rows.append({"model": model, "condition": condition, "seed": seed, "round": round_,
                                 "set": set_name, "metric": metric, "value": value})

    for model, ev in sorted(base_evals.items()):
        for condition in conditions:
            for seed in seeds:
                emit(model, condition, seed, 0, ev)
    for ev in round_evals:
        emit(ev["model"], ev["condition"], ev["seed"], ev["round"], ev)
    rows.sort(key=lambda r: (r["model"], r["condition"], r["seed"], r["round"], r["set"], r["metric"]))
    return rows


def write_summary(path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "value": repr(float(r["value"]))})
    atomic_write_text(path, buf.getvalue())


def read_summary(path) -> list[dict]:
    with open(path, newline="") as f:
        return [{**r, "seed": int(r["seed"]), "round": int(r["round"]), "value": float(r["value"])}
                for r in csv.DictReader(f)]


def series(rows: list[dict], model: str, set_name: str, metric: str) -> dict[str, list[tuple[int, float, float, float]]]:
    """{condition: [(round, mean, low, high)]} over seeds, sorted by round."""
    acc = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["model"] == model and r["set"] == set_name and r["metric"] == metric:
            acc[r["condition"]][r["round"]].append(r["value"])
    return {c: [(rd, sum(v) / len(v), min(v), max(v)) for rd, v in sorted(by_round.items())]
            for c, by_round in sorted(acc.items())}


def plot_collapse(rows: list[dict], pdf_path, png_path) -> None:
    """One row of panels per model (held-out word perplexity, bits per byte vs round), a line per condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in rows})
    sets = sorted({r["set"] for r in rows})
    panels = [(s, m, label, logy) for s in sets for m, label, logy in PLOTTED]
    fig, axes = plt.subplots(len(models), len(panels), figsize=(4.2 * len(panels), 3.4 * len(models)), squeeze=False)
    styles = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (1, 1)), "P")]
    for i, model in enumerate(models):
        for j, (set_name, metric, label, logy) in enumerate(panels):
            ax = axes[i][j]
            for k, (cond, pts) in enumerate(series(rows, model, set_name, metric).items()):
                ls, marker = styles[k % len(styles)]
                x = [p[0] for p in pts]
                line, = ax.plot(x, [p[1] for p in pts], linestyle=ls, marker=marker, color=f"C{k}",
                                label=cond.replace("_", " "))
                if any(p[3] > p[2] for p in pts):
                    ax.fill_between(x, [p[2] for p in pts], [p[3] for p in pts], color=line.get_color(), alpha=0.2)
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel("self-training round (0 = base model)")
            ax.set_ylabel(f"{label}" + ("" if set_name == "heldout" else f" ({set_name})"))
            ax.set_title(f"{model}", fontsize=10)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, pdf_path, png_path)
    plt.close(fig)


def _save(fig, pdf_path, png_path) -> None:
    """Save atomically; no creation date, so the same numbers give the same bytes."""
    import os
    import tempfile

    for path, fmt, meta in ((pdf_path, "pdf", {"CreationDate": None}), (png_path, "png", {"Software": None})):
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plot.", suffix=f".{fmt}", dir=d)
        os.close(fd)
        try:
            fig.savefig(tmp, format=fmt, metadata=meta, dpi=150)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise


def load_eval(path) -> dict:
    with open(path) as f:
        ev = json.load(f)
    for m in ev.get("perplexity", {}).values():
        for v in m.values():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{path}: non-finite metric")
    return ev
