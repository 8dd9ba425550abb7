"""The README's first screen quotes the recorded run, never a paraphrase: its verdict table and its reading are
what selftrain.reading computes from that run's verdict.csv (docs/verdict-default.csv), and the reading is the
run's own results/reading.md (docs/reading-default.md)."""

import re
from pathlib import Path

from selftrain.reading import reading, verdict_table
from selftrain.verdict import read_verdict

ROOT = Path(__file__).resolve().parents[1]


def block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- BEGIN {name} [^>]*-->\n(.*?)<!-- END {name} -->", text, re.S)
    assert m, f"README.md has no {name} block"
    return m.group(1)


def test_the_readme_table_and_reading_are_computed_from_the_recorded_verdicts():
    verdicts = read_verdict(ROOT / "docs/verdict-default.csv")
    assert block("verdict-table") == verdict_table(verdicts)
    assert block("reading") == reading(verdicts) == (ROOT / "docs/reading-default.md").read_text()


def test_the_recorded_run_is_the_reference_run():
    """docs/reference-default.json (compare_reference's reference) holds the recorded verdicts' start and end."""
    import json

    reference = json.loads((ROOT / "docs/reference-default.json").read_text())
    means = {(r["condition"], r["measure"], r["set"], r["metric"], r["round"]): r["mean"] for r in reference["rows"]}
    for v in read_verdict(ROOT / "docs/verdict-default.csv"):
        key = (v["condition"], v["measure"], v["set"], v["metric"])
        assert abs(means[(*key, int(float(v["from_round"])))] - v["start"]) < 1e-12
        assert abs(means[(*key, int(float(v["to_round"])))] - v["end"]) < 1e-12
