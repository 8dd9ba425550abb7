"""The embedded default promises the contrast of the paper's title: naive recursion beside a strategic pipeline
(a fixed stronger teacher writes the corpus), at least 3 seeds, the same token budget, and downstream tasks with
enough items off the floor: config.yaml is read as the user runs it."""

from pathlib import Path

import yaml

from selftrain.config import branches, generator_model, resolve_condition, validate_config
from selftrain.regimes import make_regime

ROOT = Path(__file__).resolve().parents[1]


def default():
    return validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))


def test_default_contrasts_naive_replace_with_a_teacher_over_three_seeds():
    c = default()
    assert len(c["seeds"]) >= 3 and len(set(c["seeds"])) == len(c["seeds"]) and c["rounds"] >= 2
    conds = {name: resolve_condition(c, name) for name in c["conditions"]}
    assert {name: (spec["data"]["regime"], generator_model(spec)) for name, spec in conds.items()} == {
        "replace": ("replace", None), "distill": ("replace", "teacher")}
    # the two differ in one thing only: who writes the corpus
    same = lambda spec: {k: v for k, v in spec.items() if k != "generator"}  # noqa: E731
    assert same(conds["distill"]) == same(conds["replace"])
    # the teacher is trained by no condition: every branch trains tiny
    assert branches(c) == [("tiny", "distill"), ("tiny", "replace")]


def test_every_condition_trains_on_the_same_token_budget():
    """The teacher writes the student's budget, tokens_per_round, in a tokenizer trained alike (same vocabulary
    size, same corpus), so every round of both conditions trains on as many tokens."""
    c = default()
    tiny, teacher = c["models"]["tiny"]["base"], c["models"]["teacher"]["base"]
    assert tiny["tokenizer"] == teacher["tokenizer"] and tiny["architecture"] == teacher["architecture"]
    assert teacher["training"]["epochs"] > tiny["training"]["epochs"]  # stronger by more pre-training alone
    synthetic = [[{"id": f"g{i}", "text": "w " * 50} for i in range(20)]]  # 1000 words
    real = [{"id": f"r{i}", "text": "v " * 40} for i in range(30)]
    sizes = {}
    for name in c["conditions"]:
        docs = make_regime(resolve_condition(c, name)["data"], 0).documents(synthetic, real)
        sizes[name] = sum(len(d["text"].split()) for d in docs)
    assert sizes == {"replace": 1000, "distill": 1000}


def test_default_tasks_have_enough_items_for_a_narrow_interval_and_none_at_the_floor():
    c = default()
    assert c["evaluation"]["downstream"]["max_items"] >= 800 and c["corpus"]["heldout_fraction"] >= 0.1
    # the open last word scored 0.1% for this model: the default asks for the choice among four instead
    assert [t["name"] for t in c["evaluation"]["downstream"]["tasks"]] == ["last_word_choice", "minimal_pairs"]


def test_the_default_judges_with_its_own_measured_kernel_spread():
    """verdict.kernel_spread names the spread measured from runs of this config under other thread counts, and the
    reference compare_reference checks against keeps that file's tolerances."""
    import json

    c = default()
    spread = json.loads((ROOT / c["verdict"]["kernel_spread"]).read_text())
    assert len(spread["runs"]) >= 2 and spread["margin"] >= 1
    assert "perplexity/heldout/bits_per_byte" in spread["tolerances"]
    for key, tol in spread["tolerances"].items():
        assert tol == {k: spread["margin"] * v for k, v in spread["observed"][key].items()}, key
    reference = json.loads((ROOT / "docs/reference-default.json").read_text())
    assert reference["kernel_spread"] == {k: spread[k] for k in ("measured", "runs", "margin")}
    assert {k: reference["tolerances"][k] for k in spread["tolerances"]} == spread["tolerances"]
