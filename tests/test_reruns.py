"""Reruns: on a finished tiny run, changing one key schedules exactly the jobs whose output it can change
(Snakemake's default --rerun-triggers: mtime, params, input, software-env, code)."""

import copy

import pytest

from test_workflow import TINY, jobs_of, snakemake, write_config

CFG = {**copy.deepcopy(TINY), "rounds": 1, "protect_checkpoints": False}
CFG["evaluation"] = {k: v for k, v in CFG["evaluation"].items() if k != "perplexity_sets"}
# two conditions that differ only downstream of generation (their filters)
CFG["conditions"] = {"plain": {"prompt": {"strategy": "unconditional"}},
                     "short": {"prompt": {"strategy": "unconditional"}, "filters": [{"name": "min_length", "min_tokens": 2}]}}
REPORT = {"aggregate": 1, "plot": 1, "manifest": 1, "all": 1}
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
    # filters: that condition's filter, training and evaluation only (no generation)
    (lambda c: short(c).update(filters=[{"name": "min_length", "min_tokens": 3}]),
     {"filter_corpus": 1, "train_round": 1, "evaluate_round": 1, **REPORT}),
    # data regime and init: that condition's training and evaluation only (no generation, no filter)
    (lambda c: short(c).update(data={"regime": "mix", "real_fraction": 0.2}), {"train_round": 1, "evaluate_round": 1, **REPORT}),
    (lambda c: short(c).update(init="base"), {"train_round": 1, "evaluate_round": 1, **REPORT}),
    # sampling: that condition's whole branch
    (lambda c: short(c).update(sampling={"temperature": 0.9}),
     {"generate": 1, "filter_corpus": 1, "train_round": 1, "evaluate_round": 1, **REPORT}),
    # training settings: every round's training and what follows, not the base model
    (lambda c: c["training"].update(lr=2e-3), {"train_round": 2, "evaluate_round": 2, **REPORT}),
    # evaluation settings: every evaluation, nothing upstream
    (lambda c: c["evaluation"].update(batch_size=4), {"evaluate_base": 1, "evaluate_round": 2, **REPORT}),
    # generation settings: every generation and what follows
    (lambda c: c["generation"].update(tokens_per_round=1600),
     {"generate": 2, "filter_corpus": 2, "train_round": 2, "evaluate_round": 2, **REPORT}),
], ids=["save_every", "base save_every", "gpu_memory_utilization", "scratch_dir", "resources", "filters",
        "data regime", "init", "sampling", "training lr", "evaluation batch_size", "tokens_per_round"])
def test_one_change_reruns_exactly_its_jobs(finished, change, jobs):
    assert dry_run_with(finished, change) == jobs
