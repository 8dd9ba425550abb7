"""End to end: a second run of the tiny config, SIGKILLed (the whole Snakemake process group, as a power loss or
a preemption would) during the base pre-training, a round-1 generation (after its model loaded, mid-corpus) and a
round's training, then run to the end, gives the bytes of the uninterrupted one (tests/conftest.py's tiny_run)."""

import json
import subprocess

import pytest

from selftrain.config import resolve_condition, shared_round_keys, validate_config
from workflow_runs import HELD, STATUS, TINY, cells, hold_generation, outputs, run_until, snakemake, write_config

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """What each kill left, and the final outputs."""
    wd = tmp_path_factory.mktemp("resumed")
    write_config(wd, TINY)
    res, rnd = wd / "results", wd / "results/pico/unconditional/seed0/round1"
    shared = shared_round_keys(resolve_condition(validate_config(json.loads(json.dumps(TINY)), check_tasks=False),
                                                 "unconditional"))[0]
    status = STATUS + ["-d", str(wd)]
    seen = {}
    # 1. base pre-training, between two resume states
    seen["base killed"] = run_until(wd, "results/logs/pico/round0/base_model.log", "resume state saved at step 40")
    seen["base checkpoint after kill"] = (res / "pico/round0/checkpoint").exists()
    seen["base resume state after kill"] = (res / ".scratch/pico/round0/checkpoint/state.json").is_file()
    # 2. generation (round 1: the shared one), after its model loaded and its first batch, before its corpus is
    # written: the job is held there (tests/hold_generation) so that the kill cannot land before or after
    generate_log = f"results/logs/pico/shared/seed0/round1/{shared}/generate.log"
    seen["generation killed"] = run_until(wd, generate_log, HELD, env=hold_generation(generate_log))
    seen["generation log at kill"] = (wd / generate_log).read_text()
    seen["corpus after kill"] = (rnd / "generated.jsonl").exists()
    seen["base record after kill"] = (res / "pico/round0/checkpoint.prov.json").is_file()
    seen["status after generation kill"] = subprocess.run(status, capture_output=True, text=True, check=True).stdout
    # 3. the round's continual pre-training, after a resume state
    seen["training killed"] = run_until(wd, "results/logs/pico/unconditional/seed0/round1/train_round.log",
                                        "resume state saved at step 20")
    seen["round checkpoint after kill"] = (rnd / "checkpoint").exists()
    # then run to the end: the exit status is checked (snakemake() raises on failure)
    snakemake(wd, "results/figures/collapse.pdf", "results/manifest.json")
    seen["logs"] = {name: (res / "logs" / name).read_text() for name in
                    ("pico/round0/base_model.log", "pico/unconditional/seed0/round1/train_round.log")}
    seen["scratch left"] = (res / ".scratch").exists()
    seen["status at the end"] = subprocess.run(status, capture_output=True, text=True, check=True).stdout
    seen["outputs"] = outputs(wd)
    return seen


# the resumed run first: on another worker, tests/test_workflow.py is meanwhile making the tiny run
def test_killed_runs_resume_to_the_bytes_of_an_uninterrupted_run(resumed_run, tiny_run_record):
    seen = resumed_run
    # 1. base pre-training, between two resume states: no checkpoint, a resume state
    assert seen["base killed"] and not seen["base checkpoint after kill"] and seen["base resume state after kill"]
    # 2. round 1's shared generation, before its corpus is written (round 0 finished, with its record)
    assert seen["generation killed"] and not seen["corpus after kill"] and seen["base record after kill"]
    assert "weights loaded from results/pico/round0/checkpoint" in seen["generation log at kill"]
    assert "generated " not in seen["generation log at kill"]  # killed mid-corpus
    assert cells(seen["status after generation kill"], "shared")[1] == "failed (generate_shared)"
    assert cells(seen["status after generation kill"], "unconditional")[1] == "pending (link_shared_round)"
    # 3. the round's continual pre-training, after a resume state
    assert seen["training killed"] and not seen["round checkpoint after kill"]
    # then run to the end (exit status 0: the fixture's snakemake() checks it): each training resumed
    assert "resumed from step" in seen["logs"]["pico/round0/base_model.log"]
    assert "resumed from step" in seen["logs"]["pico/unconditional/seed0/round1/train_round.log"]
    assert not seen["scratch left"]
    assert cells(seen["status at the end"], "unconditional") == ["done", "done", "done"]
    done, ref = seen["outputs"], tiny_run_record.outputs
    assert sorted(done) == sorted(ref)
    assert [p for p in ref if done[p] != ref[p]] == []


def test_same_config_and_seed_give_identical_bytes(resumed_run, tiny_run_record):
    """Two fresh runs of the same config give the same bytes; the second is the run this file kills three times
    and resumes, which also shows that nothing of a killed run leaks into the result."""
    first, second = tiny_run_record.outputs, resumed_run["outputs"]
    files = sorted(p for p in first if p.endswith((".jsonl", ".csv", "/eval.json", "/filter_stats.json",
                                                   "/collapse.pdf")))
    # data, tasks, ood set, rounds x (gen, filt, stats, eval), shared round 1 x (gen, filt, stats), base eval,
    # summary (+ intervals, verdict, contrasts), pdf
    assert len(files) == 2 + 2 + 1 + 4 * 4 + 2 * 3 + 1 + 4 + 1
    for rel in files:
        assert second[rel] == first[rel], rel
    # provenance records and the manifest hold no time stamp: the same bytes too
    records = sorted(p for p in first if p.endswith(".prov.json"))
    # data, tasks, ood set, tail vocabulary, tokenizer, round 0, rounds, shared round 1, summary + intervals +
    # verdict, figures, reading, manifest
    assert len(records) == 3 + 2 + 1 + 1 + 1 + 2 + 4 * 5 + 2 * 3 + 3 + 2 + 1 + 1 + 1  # the last: contrasts.csv
    for rel in records + ["manifest.json"]:
        assert second[rel] == first[rel], rel
