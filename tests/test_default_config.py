"""The embedded default promises a contrast the field argues about, at least 3 seeds, the same token budget,
and downstream tasks with enough items: config.yaml is read as the user runs it."""

from pathlib import Path

import yaml

from selftrain.config import resolve_condition, validate_config
from selftrain.regimes import make_regime

ROOT = Path(__file__).resolve().parents[1]


def default():
    return validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))


def test_default_contrasts_naive_replace_with_a_real_data_regime_over_three_seeds():
    c = default()
    assert len(c["seeds"]) >= 3 and len(set(c["seeds"])) == len(c["seeds"]) and c["rounds"] >= 2
    conds = {name: resolve_condition(c, name) for name in c["conditions"]}
    regimes = {name: spec["data"]["regime"] for name, spec in conds.items()}
    assert sorted(regimes.values()) == ["mix", "replace"]
    # the two differ only in their data regime: same prompting, sampling, filters and init
    assert len({repr({k: v for k, v in spec.items() if k != "data"}) for spec in conds.values()}) == 1
    assert conds["mix_real10"]["data"]["real_fraction"] == 0.1  # Shumailov et al.'s 10% of the original data


def test_both_regimes_train_on_the_same_token_budget():
    """mix keeps this round's synthetic size (real documents replace synthetic ones), so every round of both
    regimes trains on as many words as replace does."""
    synthetic = [[{"id": f"g{i}", "text": "w " * 50} for i in range(20)]]  # 1000 words
    real = [{"id": f"r{i}", "text": "v " * 40} for i in range(30)]
    sizes = {}
    for name, spec in default()["conditions"].items():
        docs = make_regime(resolve_condition(default(), name)["data"], 0).documents(synthetic, real)
        sizes[name] = sum(len(d["text"].split()) for d in docs)
    assert sizes == {"replace": 1000, "mix_real10": 1000}


def test_default_tasks_have_enough_items_for_a_narrow_interval():
    c = default()
    assert c["evaluation"]["downstream"]["max_items"] >= 800 and c["corpus"]["heldout_fraction"] >= 0.1
