"""End to end on configs/grid-small.yaml: every prompting strategy, filter, data regime and init in one
real Snakemake run, then conditions that must stop with an error naming condition and round."""

import json
import os
from pathlib import Path

import pytest
import yaml

from workflow_runs import ROOT, snakemake, write_config

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out

CONFIG = yaml.safe_load((ROOT / "configs" / "grid-small.yaml").read_text())
CONDITIONS = ["drayson", "mentored", "prompt-self_prefix8__filter-quality_dedup_ppl75__data-accumulate",
              "prompt-topic__filter-quality_dedup_ppl75__data-accumulate", "unconditional_mix25"]
# one thread per job: two jobs share the two cores (each job is mostly interpreter start-up)
ONE_THREAD = ["--set-threads"] + [f"{r}=1" for r in ("train_tokenizer", "base_model", "evaluate_base", "generate",
                                                     "generate_shared", "filter_corpus", "filter_shared",
                                                     "train_round", "evaluate_round")]


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("grid_small")
    write_config(wd, CONFIG)
    snakemake(wd, "results/figures/collapse.pdf", *ONE_THREAD)  # --set-threads takes every later word
    return wd


def round_dir(wd, cond, rnd):
    return wd / "results" / "pico" / cond / "seed0" / f"round{rnd}"


def test_grid_conditions_are_the_dag_branches(grid_run):
    branches = [p.name for p in (grid_run / "results/pico").iterdir()
                if p.name not in ("round0", "tokenizer", "shared") and not p.name.endswith(".prov.json")]
    assert sorted(branches) == CONDITIONS
    summary = (grid_run / "results/summary.csv").read_text().splitlines()
    heldout = [r for r in summary if ",perplexity,heldout," in r]
    # conditions x rounds 0..2 x perplexity metrics, and the mentor's round 0 (condition "-": no condition trains it)
    assert len(heldout) == 5 * 3 * 3 + 3
    assert {r.split(",")[1] for r in heldout} == set(CONDITIONS) | {"-"}


def test_filter_stats_match_the_corpora(grid_run):
    for cond in CONDITIONS:
        for rnd in (1, 2):
            d = round_dir(grid_run, cond, rnd)
            gen, filt = read_jsonl(d / "generated.jsonl"), read_jsonl(d / "filtered.jsonl")
            assert sum(g["meta"]["n_tokens"] for g in gen) == 1500
            stats = json.loads((d / "filter_stats.json").read_text())
            assert (stats["input_documents"], stats["output_documents"]) == (len(gen), len(filt)) and filt
            counts = [stats["input_documents"]] + [s["kept"] for s in stats["steps"]]
            assert all(s["input"] == counts[i] and s["input"] - s["kept"] == s["removed"]
                       for i, s in enumerate(stats["steps"]))
            names = [s["name"] for s in stats["steps"]]
            if cond == "drayson":
                assert names == ["min_length", "detector", "perplexity"]
                det = stats["steps"][1]["details"]
                assert det["train_documents"]["human"] == det["train_documents"]["machine"] > 0
                assert det["train_accuracy"] > 0.9 and det["human_probability_kept_min"] > 0
                assert stats["steps"][1]["kept"] == -(-stats["steps"][1]["input"] // 2)
                assert stats["steps"][2]["kept"] == -(-stats["steps"][2]["input"] * 4 // 5)
            elif cond == "unconditional_mix25":
                assert names == ["none"] and len(filt) == len(gen)
            elif cond == "mentored":
                assert names == ["perplexity"] and stats["steps"][0]["params"]["scorer"] == "mentor"
                assert stats["steps"][0]["details"]["scored_by"] == "results/mentor/round0/checkpoint"
                assert stats["steps"][0]["kept"] == -(-stats["steps"][0]["input"] * 3 // 4)
            else:
                assert names == ["quality", "dedup", "perplexity"]
                assert set(stats["steps"][1]["details"]) == {"exact_duplicates", "near_duplicates"}
                assert stats["steps"][2]["kept"] == -(-stats["steps"][2]["input"] * 3 // 4)
                assert stats["steps"][2]["details"]["kept_max"] <= stats["steps"][2]["details"]["scored_median"] * 10


def test_regimes_and_inits_in_training_info(grid_run):
    n_filtered = {(c, r): len(read_jsonl(round_dir(grid_run, c, r) / "filtered.jsonl")) for c in CONDITIONS for r in (1, 2)}
    real_docs = {}  # the capped real pool is the same in every round
    for cond in CONDITIONS:
        for rnd in (1, 2):
            info = json.loads((round_dir(grid_run, cond, rnd) / "checkpoint/training_info.json").read_text())
            assert sum(info["sources"].values()) == info["documents"]
            if cond.endswith("data-accumulate"):
                expected = {f"round{r}": n_filtered[cond, r] for r in range(1, rnd + 1)}
                assert (info["regime"], info["init"]) == ("accumulate", "previous")
                assert {k: v for k, v in info["sources"].items() if k != "real"} == expected
                assert info["sources"]["real"] == real_docs.setdefault(cond, info["sources"]["real"]) >= 1
            elif cond == "unconditional_mix25":
                assert info["regime"] == "mix" and set(info["sources"]) == {"real", f"round{rnd}"}
            elif cond == "mentored":
                assert (info["regime"], info["init"]) == ("replace", "previous")
                assert info["sources"] == {f"round{rnd}": n_filtered[cond, rnd]}
            else:
                assert (info["regime"], info["init"]) == ("accumulate_subsample", "base")
                assert set(info["sources"]) <= {"real", "round1", "round2"}


def test_prompts_follow_each_strategy(grid_run):
    topic = read_jsonl(round_dir(grid_run, "prompt-topic__filter-quality_dedup_ppl75__data-accumulate", 1) / "generated.jsonl")
    topics = ["love", "war", "the king", "the sea", "a letter", "the night", "honour", "a feast"]
    assert {g["prompt"] for g in topic} <= {t.format(topic=x) for t in ("Of {topic}:", "{topic}") for x in topics}
    self_cond = "prompt-self_prefix8__filter-quality_dedup_ppl75__data-accumulate"
    assert {g["prompt"] for g in read_jsonl(round_dir(grid_run, self_cond, 1) / "generated.jsonl")} == {""}
    previous = [g["text"] for g in read_jsonl(round_dir(grid_run, self_cond, 1) / "generated.jsonl")]
    for g in read_jsonl(round_dir(grid_run, self_cond, 2) / "generated.jsonl"):
        assert g["prompt"] and any(t.startswith(g["prompt"]) for t in previous), g["prompt"]
    assert {g["prompt"] for g in read_jsonl(round_dir(grid_run, "unconditional_mix25", 2) / "generated.jsonl")} == {""}


def record_of(path):
    """The provenance record of a target (through a shared round's link to its folder)."""
    return json.loads(Path(os.path.realpath(path) + ".prov.json").read_text())


def test_the_mentor_writes_every_round_and_judges_it_and_the_records_say_so(grid_run):
    """A teacher condition's corpora come from the teacher's weights (the weights each generate job reports having
    loaded, by path and the hash the teacher's own record gave its weight files), not from the model being trained;
    its scorer's weights judge them."""
    mentor = "results/mentor/round0/checkpoint"
    written = record_of(grid_run / mentor)["output"]["files"][mentor]
    digest = written["sha256"]
    weights = {name: d for name, d in written["files"].items() if name.endswith(".safetensors")}
    assert weights
    topics = {"Of " + x + ":" for x in ["love", "war", "the king", "the sea", "a letter", "the night", "honour",
                                        "a feast"]}
    for rnd, own in ((1, "results/pico/round0/checkpoint"), (2, "results/pico/mentored/seed0/round1/checkpoint")):
        d = round_dir(grid_run, "mentored", rnd)
        generated = record_of(d / "generated.jsonl")
        assert generated["facts"]["weights"] == {"path": mentor, "files": weights}
        assert generated["input"]["files"][mentor]["sha256"] == digest
        assert own not in generated["input"]["files"]  # the trained model wrote none of it
        assert {g["prompt"] for g in read_jsonl(d / "generated.jsonl")} <= topics  # designed prompts
        filtered = record_of(d / "filtered.jsonl")
        assert filtered["input"]["files"][mentor]["sha256"] == digest and filtered["input"]["named"]["scorer:mentor"] == mentor
        # the mentor's corpus, written once for every student that reads it, with no student in its params
        assert Path(os.path.realpath(d / "generated.jsonl")).parent.parent.parent.parent == grid_run / "results/mentor/teaching"
        assert "pico" not in json.dumps(generated["params"])
    # the mentor's own corpora exist nowhere: no condition trains it; its round 0 is evaluated
    assert sorted(p.name for p in (grid_run / "results/mentor").iterdir() if p.is_dir()) == ["round0", "teaching",
                                                                                               "tokenizer"]
    assert json.loads((grid_run / "results/mentor/round0/eval.json").read_text())["round"] == 0


def test_emptied_corpus_and_unmet_budget_stop_naming_condition_and_round(grid_run):
    cfg = json.loads(json.dumps(CONFIG))
    cfg["conditions"]["empty"] = {"prompt": {"strategy": "unconditional"},
                                  "filters": [{"name": "quality", "min_words": 100000}]}
    cfg["conditions"]["overbudget"] = {"prompt": {"strategy": "unconditional"},
                                       "data": {"regime": "accumulate_subsample", "budget_tokens": 10 ** 9}}
    write_config(grid_run, cfg)
    targets = ["results/pico/empty/seed0/round1/filtered.jsonl", "results/pico/overbudget/seed0/round1/checkpoint"]
    proc = snakemake(grid_run, *targets, "--keep-going", *ONE_THREAD, check=False)
    assert proc.returncode != 0
    logs = grid_run / "results/logs/pico"
    # round 1 is filtered in the shared folder of its generation and chain; the message names the condition
    shared_logs = [p.read_text() for p in (logs / "shared/seed0/round1").glob("gen-*/filters-*/filter_corpus.log")]
    assert any("condition empty seed 0 round 1: the filters ['quality'] removed every document" in t
               for t in shared_logs)
    assert ("condition overbudget seed 0 round 1: data regime accumulate_subsample:"
            in (logs / "overbudget/seed0/round1/train_round.log").read_text())
    assert not (grid_run / targets[0]).exists() and not (grid_run / targets[1]).exists()
    write_config(grid_run, CONFIG)
