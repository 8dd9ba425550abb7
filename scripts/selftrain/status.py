"""A model x condition x seed x round table of done / pending / failed, read off `snakemake --summary`
(Snakemake's own view of every target), its incomplete markers and the failures its run logs report."""

from __future__ import annotations

import base64
import re
from pathlib import Path

# a round's targets live under results/<model>/<condition>/seed<s>/round<r>/, round 0 under results/<model>/round0/
ROUND_TARGET = re.compile(r"^results/(?P<model>[^/]+)/(?P<condition>[^/]+)/seed(?P<seed>\d+)/round(?P<round>\d+)/")
BASE_TARGET = re.compile(r"^results/(?P<model>[^/]+)/(round0/|tokenizer$)")
# stages in the order a round runs them: a cell names the first one that is not done
# (a shared round 1, results/<model>/shared/seed<s>/round1/..., is a row of its own, condition "shared")
STAGES = ("prepare_corpus", "train_tokenizer", "base_model", "evaluate_base", "generate_shared", "filter_shared",
          "link_shared_round", "generate", "filter_corpus", "train_round", "evaluate_round")


def incomplete_outputs(workdir: str | Path = ".") -> set[str]:
    """Outputs Snakemake marked as started but never finished (a killed job): .snakemake/incomplete."""
    root = Path(workdir, ".snakemake", "incomplete")
    found = set()
    for marker in root.rglob("*") if root.is_dir() else ():
        if marker.is_file():
            parts = [p.lstrip("@") for p in marker.relative_to(root).parts]
            try:
                found.add(base64.urlsafe_b64decode("".join(parts)).decode())
            except ValueError:
                continue
    return found


def failed_outputs(workdir: str | Path = ".") -> set[str]:
    """Outputs of jobs that Snakemake reported as failed ("Error in rule") in its run logs."""
    failed = set()
    for log in sorted(Path(workdir, ".snakemake", "log").glob("*.snakemake.log")):
        in_error = False
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("Error in rule "):
                in_error = True
            elif in_error and line.startswith("    output: "):
                failed.update(p.strip() for p in line[len("    output: "):].split(","))
                in_error = False
    return failed


def target_states(summary: str, unfinished: set[str]) -> list[dict]:
    """One {path, rule, state} per `--summary` line; state is done, pending or failed.

    failed: missing or unfinished, and its job failed or was killed (unfinished: failed_outputs and
    incomplete_outputs); pending: missing or out of date and not failed."""
    states = []
    for line in summary.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 6:
            continue
        path, rule, status, plan = cols[0], cols[2], cols[-2], cols[-1]
        if path in unfinished and (status != "ok" or plan == "update pending"):
            state = "failed"
        elif status == "missing" or plan == "update pending":
            state = "pending"
        else:
            state = "done"
        states.append({"path": path, "rule": rule, "state": state})
    return states


def _cell(targets: list[dict]) -> str:
    for state in ("failed", "pending"):
        rules = [t["rule"] for t in targets if t["state"] == state]
        if rules:
            first = min(rules, key=lambda r: STAGES.index(r) if r in STAGES else len(STAGES))
            return f"{state} ({first})"
    return "done"


def status_table(states: list[dict]) -> str:
    """Rows model/condition/seed, columns round 0..R; round 0 and the corpus are shared by a model's rows."""
    base, rounds, other = {}, {}, []
    for t in states:
        if m := ROUND_TARGET.match(t["path"]):
            key = (m["model"], m["condition"], int(m["seed"]))
            rounds.setdefault(key, {}).setdefault(int(m["round"]), []).append(t)
        elif m := BASE_TARGET.match(t["path"]):
            base.setdefault(m["model"], []).append(t)
        else:
            other.append(t)
    data = [t for t in other if t["rule"] == "prepare_corpus"]
    n_rounds = max([r for branch in rounds.values() for r in branch] + [0])
    header = ["model", "condition", "seed"] + [f"round{r}" for r in range(n_rounds + 1)]
    rows = []
    for (model, cond, seed), branch in sorted(rounds.items()):
        cells = [_cell(data + base.get(model, []))]
        cells += [_cell(branch[r]) if r in branch else "-" for r in range(1, n_rounds + 1)]
        rows.append([model, cond, str(seed)] + cells)
    for model in sorted(set(base) - {k[0] for k in rounds}):
        rows.append([model, "-", "-", _cell(data + base[model])] + ["-"] * n_rounds)
    report = [t for t in other if t["rule"] != "prepare_corpus"]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + rows]
    for t in sorted(report, key=lambda t: t["path"]):
        lines.append(f"{t['path']}: {t['state']}")
    counts = {s: sum(t["state"] == s for t in states) for s in ("done", "pending", "failed")}
    lines.append(f"targets: {counts['done']} done, {counts['pending']} pending, {counts['failed']} failed")
    return "\n".join(lines) + "\n"
