import json
import subprocess
import sys
from pathlib import Path

import pytest

from selftrain.reference import allowed, compare, measure_spread, read_intervals, reference_rows, write_reference
from selftrain.report import CI_COLUMNS, interval_rows, write_csv

ROOT = Path(__file__).resolve().parents[1]


def summary(bpb_last, seeds=(0, 1, 2)):
    """Summary rows of one condition: bits per byte 2.0 at round 0, bpb_last[seed] at round 2."""
    rows = []
    for s in seeds:
        for rnd, v in ((0, 2.0), (1, 2.05), (2, bpb_last[s])):
            rows.append({"model": "m", "condition": "replace", "seed": s, "round": rnd, "measure": "perplexity",
                         "set": "heldout", "metric": "bits_per_byte", "value": v})
            rows.append({**rows[-1], "measure": "downstream", "set": "last_word", "metric": "acc", "value": 0.1 * (rnd + 1)})
    return rows


def write_ci(path, rows):
    write_csv(path, CI_COLUMNS, interval_rows(rows))
    return path


def test_reference_keeps_headlines_at_first_and_last_round(tmp_path):
    ref = reference_rows(read_intervals(write_ci(tmp_path / "ci.csv", summary([2.1, 2.2, 2.3]))))
    assert [(r["round"], r["metric"], r["mean"]) for r in ref] == [
        (0, "acc", pytest.approx(0.1)), (0, "bits_per_byte", 2.0), (2, "acc", pytest.approx(0.3)),
        (2, "bits_per_byte", pytest.approx(2.2))]
    # round 0: the tolerance alone; round 2: plus the reference's 95% half-width over seeds (4.303 * 0.1 / sqrt 3)
    tol = {"bits_per_byte": {"abs": 0.01}, "acc": {"abs": 0.01}}
    assert allowed(ref[1], tol) == 0.01 and allowed(ref[3], tol) == pytest.approx(0.01 + 0.248414, abs=1e-6)


def test_compare_flags_a_round0_drift_beyond_tolerance_and_a_missing_row(tmp_path):
    ref_ci = read_intervals(write_ci(tmp_path / "ci.csv", summary([2.1, 2.2, 2.3])))
    reference = {"tolerances": {"bits_per_byte": {"abs": 0.01}, "acc": {"abs": 0.01}}, "rows": reference_rows(ref_ci)}
    moved = [{**r, "mean": r["mean"] + 0.02} if r["round"] == 0 and r["metric"] == "bits_per_byte" else r for r in ref_ci]
    lines = compare(reference, moved)
    assert lines[1].startswith("DIFFERS m replace 0 perplexity heldout bits_per_byte: 2.02 vs reference 2")
    assert [line.split()[0] for line in lines] == ["ok", "DIFFERS", "ok", "ok"]
    assert compare(reference, [r for r in ref_ci if r["round"] != 2])[2].startswith("MISSING m replace 2 downstream")


def test_command_records_then_checks_a_rerun(tmp_path):
    """The documented command, from the repository root: a rerun within tolerance passes, a drifted one fails."""
    ref_path = tmp_path / "reference.json"
    cmd = [sys.executable, "scripts/compare_reference.py", "--reference", str(ref_path), "--intervals"]
    first = write_ci(tmp_path / "a.csv", summary([2.1, 2.2, 2.3]))
    rec = subprocess.run(cmd + [str(first), "--record", "test machine"], cwd=ROOT, capture_output=True, text=True)
    assert rec.returncode == 0, rec.stderr
    assert json.loads(ref_path.read_text())["measured"] == "test machine"
    # another draw of the later rounds, inside the reference's seed interval: agrees
    rerun = write_ci(tmp_path / "b.csv", summary([2.15, 2.25, 2.35]))
    ok = subprocess.run(cmd + [str(rerun)], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "4 of 4 headline numbers within tolerance" in ok.stdout, ok.stdout + ok.stderr
    drifted = write_ci(tmp_path / "c.csv", summary([2.5, 2.6, 2.7]))
    bad = subprocess.run(cmd + [str(drifted)], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "DIFFERS m replace 2 perplexity heldout bits_per_byte" in bad.stdout


def verdicts(change_low_high, start=2.0):
    """verdict.csv rows of conditions a and b (bits per byte on the held-out set): (change, low, high) each."""
    return [{"model": "m", "condition": c, "measure": "perplexity", "set": "heldout", "metric": "bits_per_byte",
             "start": start, "end": start + ch, "low": lo, "high": hi} for c, (ch, lo, hi) in zip("ab", change_low_high)]


def test_the_kernel_spread_is_the_largest_difference_between_runs_times_the_margin():
    runs = [{"label": "2 threads", "verdicts": verdicts([(0.10, 0.09, 0.11), (0.01, -0.02, 0.04)])},
            {"label": "1 thread", "verdicts": verdicts([(0.12, 0.10, 0.14), (0.00, -0.03, 0.03)], start=2.002)},
            {"label": "3 threads", "verdicts": verdicts([(0.11, 0.09, 0.13), (0.02, -0.01, 0.05)], start=2.001)}]
    spread = measure_spread(runs, "test", margin=2.0)
    key = "perplexity/heldout/bits_per_byte"
    # first round: |2.0 - 2.002|; last: a's ends 2.10 / 2.122 / 2.111; bounds: a's high 0.11 vs 0.14
    assert spread["observed"][key] == pytest.approx({"first_round": 0.002, "last_round": 0.022, "interval_bounds": 0.03})
    assert spread["tolerances"][key] == pytest.approx({"first_round": 0.004, "last_round": 0.044, "interval_bounds": 0.06})
    assert (spread["runs"], spread["margin"]) == (["2 threads", "1 thread", "3 threads"], 2.0)


def test_a_reference_recorded_with_a_spread_holds_each_round_to_its_tolerance(tmp_path):
    ref_ci = read_intervals(write_ci(tmp_path / "ci.csv", summary([2.1, 2.2, 2.3])))
    spread = {"measured": "test", "runs": ["a", "b"], "margin": 2.0,
              "tolerances": {"perplexity/heldout/bits_per_byte": {"first_round": 0.02, "last_round": 0.05,
                                                                  "interval_bounds": 0.06}}}
    write_reference(tmp_path / "ref.json", ref_ci, "test machine", spread)
    reference = json.loads((tmp_path / "ref.json").read_text())
    rows = {(r["round"], r["metric"]): r for r in reference["rows"]}
    assert allowed(rows[0, "bits_per_byte"], reference["tolerances"]) == 0.02
    later = rows[2, "bits_per_byte"]
    assert allowed(later, reference["tolerances"]) == max(0.05, 0.01 + later["halfwidth"])
    # a spread below the metric's fixed tolerance (thread counts left round 0 identical) keeps the fixed one
    narrow = {**reference["tolerances"], "perplexity/heldout/bits_per_byte": {"first_round": 0.0, "last_round": 0.0}}
    assert allowed(rows[0, "bits_per_byte"], narrow) == 0.01
    # acc has no measured spread in this file: its fixed tolerance
    assert reference["tolerances"]["acc"] == {"abs": 0.03} and reference["kernel_spread"]["runs"] == ["a", "b"]
    moved = [{**r, "mean": r["mean"] + 0.045} if r["round"] == 2 and r["metric"] == "bits_per_byte" else r for r in ref_ci]
    assert [line.split()[0] for line in compare(reference, moved)] == ["ok", "ok", "ok", "ok"]
    moved = [{**r, "mean": r["mean"] + 0.025} if r["round"] == 0 and r["metric"] == "bits_per_byte" else r for r in ref_ci]
    assert [line.split()[0] for line in compare(reference, moved)] == ["ok", "DIFFERS", "ok", "ok"]
