"""Reruns: on a finished tiny run, changing one key schedules exactly the jobs whose output it can change
(Snakemake's default --rerun-triggers: mtime, params, input, software-env, code)."""

import copy

import pytest

from workflow_runs import TINY, jobs_of, snakemake, write_config

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out

CFG = {**copy.deepcopy(TINY), "rounds": 1, "protect_checkpoints": False}
CFG["evaluation"] = {k: v for k, v in CFG["evaluation"].items() if k != "perplexity_sets"}
# two conditions that differ only downstream of generation (their filters)
CFG["conditions"] = {"plain": {"prompt": {"strategy": "unconditional"}},
                     "short": {"prompt": {"strategy": "unconditional"}, "filters": [{"name": "min_length", "min_tokens": 2}]}}
REPORT = {"aggregate": 1, "plot": 1, "reading": 1, "manifest": 1, "all": 1}
TARGET = "all"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    wd = tmp_path_factory.mktemp("reruns")
    write_config(wd, CFG)
    snakemake(wd, TARGET)
    assert jobs_of(snakemake(wd, "-n", TARGET).stdout) == {}
    return wd


def dry_run_with(wd, change):
    cfg = copy.deepcopy(CFG)
    change(cfg)
    write_config(wd, cfg)
    try:
        return jobs_of(snakemake(wd, "-n", TARGET).stdout)
    finally:
        write_config(wd, CFG)


def short(c):
    return c["conditions"]["short"]


@pytest.mark.parametrize("change,jobs", [
    # settings that cannot change an output's bytes rerun nothing
    (lambda c: c["training"].update(save_every=7), {}),
    (lambda c: c["models"]["pico"]["base"]["training"].update(save_every=3), {}),
    (lambda c: c["evaluation"].update(gpu_memory_utilization=0.5), {}),
    (lambda c: c.update(scratch_dir="/tmp/elsewhere"), {}),
    (lambda c: c.update(resources={"train": {"mem_mb": 1234, "runtime": 5}}), {}),
    # filters: that condition's filter (round 1: a new shared chain, linked), training and evaluation only
    (lambda c: short(c).update(filters=[{"name": "min_length", "min_tokens": 3}]),
     {"filter_shared": 1, "link_shared_round": 1, "train_round": 1, "evaluate_round": 1, **REPORT}),
    # data regime and init: that condition's training and evaluation only (no generation, no filter)
    (lambda c: short(c).update(data={"regime": "mix", "real_fraction": 0.2}), {"train_round": 1, "evaluate_round": 1, **REPORT}),
    (lambda c: short(c).update(init="base"), {"train_round": 1, "evaluate_round": 1, **REPORT}),
    # sampling: that condition's whole branch
    (lambda c: short(c).update(sampling={"temperature": 0.9}),
     {"generate_shared": 1, "filter_shared": 1, "link_shared_round": 1, "train_round": 1, "evaluate_round": 1,
      **REPORT}),
    # a renamed condition links the shared round 1 again (its seeds name no condition) and trains anew
    (lambda c: c["conditions"].update(short2=c["conditions"].pop("short")),
     {"link_shared_round": 1, "train_round": 1, "evaluate_round": 1, **REPORT}),
    # training settings: every round's training and what follows, not the base model
    (lambda c: c["training"].update(lr=2e-3), {"train_round": 2, "evaluate_round": 2, **REPORT}),
    # evaluation settings: every evaluation, nothing upstream
    (lambda c: c["evaluation"].update(batch_size=4), {"evaluate_base": 1, "evaluate_round": 2, **REPORT}),
    # generation settings: the one shared round-1 generation, both filter chains and what follows
    (lambda c: c["generation"].update(tokens_per_round=1600),
     {"generate_shared": 1, "filter_shared": 2, "link_shared_round": 2, "train_round": 2, "evaluate_round": 2,
      **REPORT}),
], ids=["save_every", "base save_every", "gpu_memory_utilization", "scratch_dir", "resources", "filters",
        "data regime", "init", "sampling", "renamed condition", "training lr", "evaluation batch_size",
        "tokens_per_round"])
def test_one_change_reruns_exactly_its_jobs(finished, change, jobs):
    assert dry_run_with(finished, change) == jobs


def test_round1_is_generated_once_for_conditions_that_differ_only_in_filters(finished):
    import json
    import os

    res = finished / "results/pico"
    plain, short_ = (res / f"{c}/seed0/round1" for c in ("plain", "short"))
    for name in ("generated.jsonl", "filtered.jsonl", "filter_stats.json"):
        assert (plain / name).is_symlink() and (short_ / name).is_symlink()
    # one shared generation, linked from both; two filter chains on it
    assert os.path.realpath(plain / "generated.jsonl") == os.path.realpath(short_ / "generated.jsonl")
    assert os.path.realpath(plain / "filtered.jsonl") != os.path.realpath(short_ / "filtered.jsonl")
    shared = sorted(p.relative_to(res).as_posix() for p in (res / "shared").rglob("*.jsonl"))
    assert len(shared) == 3 and all(p.startswith("shared/seed0/round1/gen-") for p in shared)
    stats = json.loads((short_ / "filter_stats.json").read_text())
    assert stats["steps"][0]["name"] == "min_length"
    assert stats["input_documents"] == len((plain / "generated.jsonl").read_text().splitlines())
    # round 1's evaluation of each condition reads the corpora through its own paths
    assert json.loads((short_ / "eval.json").read_text())["condition"] == "short"
