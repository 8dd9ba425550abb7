"""The documentation says what the code and the recorded run say now: every generated block (between
`<!-- BEGIN name (source) -->` and `<!-- END name -->`) is what scripts/docs.py's generator prints from its
source today, the README's first screen keeps its order and size, and every relative link resolves."""

import json
import re
from pathlib import Path

import pytest
import yaml

from selftrain.reading import reading
from selftrain.verdict import read_verdict

ROOT = Path(__file__).resolve().parents[1]

import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("docs_tool", ROOT / "scripts/docs.py")
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)

PAGES = docs.doc_files()
BLOCKS = [(page, name) for page in PAGES for name, _ in docs.blocks(page.read_text())]
# generators are run once per session: several run the plans of the paper preset
_CACHE: dict = {}


def current(name: str) -> str:
    if name not in _CACHE:
        _CACHE[name] = docs.BLOCKS[name]()
    return _CACHE[name]


@pytest.mark.parametrize(("page", "name"), BLOCKS, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n in BLOCKS])
def test_a_generated_block_is_what_its_generator_prints_now(page, name):
    body = dict(docs.blocks(page.read_text()))[name]
    assert body == current(name), f"{page.relative_to(ROOT)}: block {name} is stale; run scripts/docs.py --write"


def test_every_generator_has_a_block_and_every_block_a_generator():
    assert {name for _, name in BLOCKS} == set(docs.BLOCKS)


def test_the_recorded_reading_is_computed_from_the_recorded_verdicts():
    """docs/reading-default.md is the recorded run's results/reading.md: selftrain.reading of its verdict.csv,
    contrasts.csv and summary.csv (recorded beside it)."""
    from selftrain.report import read_summary

    verdicts, contrasts = read_verdict(ROOT / "docs/verdict-default.csv"), read_verdict(ROOT / "docs/contrasts-default.csv")
    summary = read_summary(ROOT / "docs/summary-default.csv")
    assert reading(verdicts, contrasts, summary) == (ROOT / "docs/reading-default.md").read_text()


def test_the_recorded_run_is_the_reference_run():
    """docs/reference-default.json (compare_reference's reference) holds the recorded verdicts' start and end."""
    reference = json.loads((ROOT / "docs/reference-default.json").read_text())
    means = {(r["condition"], r["measure"], r["set"], r["metric"], r["round"]): r["mean"] for r in reference["rows"]}
    for v in read_verdict(ROOT / "docs/verdict-default.csv"):
        key = (v["condition"], v["measure"], v["set"], v["metric"])
        assert abs(means[(*key, int(float(v["from_round"])))] - v["start"]) < 1e-12
        assert abs(means[(*key, int(float(v["to_round"])))] - v["end"]) < 1e-12


def test_the_readme_is_a_front_door():
    """Under ~200 lines; in order: the paper, the figure with its headline, the three entry points with time or
    cost, then make test; exactly two set-up-to-result commands."""
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    order = ["Nakamura et al., Findings of EACL 2026", "docs/collapse-default.png", "<!-- BEGIN headline",
             "## Entry points", "`make run`", "<!-- BEGIN make-run-time", "<!-- BEGIN cost-total", "profiles/slurm/config.yaml",
             "results/data/hub_fetched.json", "configs/examples/my-condition.yaml", "make test"]
    start = 0
    for before, marker in zip([None] + order, order):  # the order a reader meets them in
        assert marker in text[start:], f"README.md: {marker!r} does not come after {before!r}"
        start = text.index(marker, start)
    make_lines = [line.split("#")[0].split() for block in re.findall(r"```bash\n(.*?)```", text, re.S)
                  for line in block.splitlines() if line.startswith("make ")]
    assert make_lines == [["make", "run"], ["make", "test"]]


def test_the_readme_condition_is_the_tested_example_config():
    """The ten lines the README shows are configs/examples/my-condition.yaml's (which the command test dry-runs)."""
    text = (ROOT / "README.md").read_text()
    shown = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    assert shown == yaml.safe_load((ROOT / "configs/examples/my-condition.yaml").read_text())
    assert len(re.search(r"```yaml\n(.*?)```", text, re.S).group(1).splitlines()) <= 12


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lowercased, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_no_page_points_outside_the_repository():
    for page in PAGES + [ROOT / "CONTRIBUTING.md"]:
        text = page.read_text()
        assert "../shared" not in text and "design card" not in text, page
