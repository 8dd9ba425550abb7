"""The smoke run of `make test-fast`: the whole recursion (corpus, tokenizer, base model, one round of generate,
filter, train, evaluate, the summary, verdict and figure) through the real Snakemake on the smallest config."""

import csv
import json

import pytest

from workflow_runs import TINY, snakemake, write_config

pytestmark = pytest.mark.smoke

SMOKE = {**json.loads(json.dumps(TINY)), "rounds": 1, "protect_checkpoints": False,
         "conditions": {"unconditional": TINY["conditions"]["unconditional"]}}
SMOKE["evaluation"] = {k: v for k, v in TINY["evaluation"].items() if k != "perplexity_sets"}
SMOKE["models"]["pico"]["base"]["training"].update(max_steps=30)
SMOKE["training"].update(epochs=1)


def test_one_round_runs_to_the_figure(tmp_path):
    from selftrain.evaluation import validate_eval_record

    write_config(tmp_path, SMOKE)
    snakemake(tmp_path, "results/figures/collapse.pdf")
    res = tmp_path / "results"
    for path in (res / "pico/round0/eval.json", res / "pico/unconditional/seed0/round1/eval.json"):
        validate_eval_record(json.loads(path.read_text()))
    generated = [json.loads(line) for line in (res / "pico/unconditional/seed0/round1/generated.jsonl").open()]
    assert sum(d["meta"]["n_tokens"] for d in generated) == SMOKE["generation"]["tokens_per_round"]
    with open(res / "verdict.csv", newline="") as f:
        verdict = list(csv.DictReader(f))
    assert {r["condition"] for r in verdict} == {"unconditional"} and {
        r["verdict"] for r in verdict if r["role"] != "derived"} == {"one seed: no interval"}
    assert (res / "figures/collapse.png").stat().st_size > 10_000
