# Paths, wildcard constraints, config slices and input functions: every target path is built here.
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from selftrain.config import (
    check_paths,
    job_section,
    locate,
    read_config_files,  # noqa: E402
    resolve_condition,
    validate_config,
    without_runtime_only,
)
from selftrain.config import round1_generation, shared_round_keys  # noqa: E402
from selftrain.cost_plan import planned_runtimes, runtime_default  # noqa: E402
from selftrain.hub import fetch_plan, needs_fetch  # noqa: E402
from selftrain.io import InputError  # noqa: E402
from selftrain.memory_plan import check_memory  # noqa: E402
from selftrain.resources import config_resource  # noqa: E402
from selftrain.seeds import derive_seed  # noqa: E402

# Snakemake has parsed the config files already (a syntax error or a bad byte in one stops it before this
# file runs); read again strictly they show duplicate keys, and say which file a bad key comes from.
# Lowest precedence first: the configfile: directive's file, then --configfile files in order, then --config.
_cli_files = [str(f) for f in workflow.overwrite_configfiles or []]
CONFIG_SOURCES = []
try:
    CONFIG_SOURCES = read_config_files(
        [str(f) for f in workflow.configfiles if str(f) not in _cli_files] + _cli_files
    )
    CONFIG_SOURCES += (
        [("--config", dict(workflow.config_settings.config))]
        if workflow.config_settings.config
        else []
    )
    # lm-eval's task index is read by the main process only: every cluster job parses this file again
    validate_config(config, check_tasks=workflow.is_main_process)
    check_paths(config)
    check_memory(
        config
    )  # before any job: a batch that cannot be split, a plan that cannot fit the GPUs
    # the runtime of each (model, kind) the cost plan estimates, for kinds whose config sets none (resource())
    PLANNED_RUNTIMES = planned_runtimes(config)
except InputError as e:
    raise WorkflowError(str(locate(e, CONFIG_SOURCES))) from None

MODELS = sorted(config["models"])
CONDITIONS = sorted(config["conditions"])
# resolved once: input functions and params of thousands of jobs look conditions up
RESOLVED_CONDITIONS = {name: resolve_condition(config, name) for name in CONDITIONS}
SEEDS = config["seeds"]
ROUNDS = config["rounds"]
# merged once per model: params of thousands of jobs read them (deep_merge copies on every call); without the
# keys a job reads at run time (config.RUNTIME_ONLY), so that changing those reruns nothing
MODEL_SECTIONS = {
    m: {s: job_section(config, m, s) for s in ("generation", "training", "evaluation")}
    for m in MODELS
}

RESULTS = "results"
TRAIN_JSONL = "results/data/train.jsonl"
HELDOUT_JSONL = "results/data/heldout.jsonl"
CORPUS_STATS = "results/data/corpus_stats.json"
TOKENIZER = "results/{model}/tokenizer"
BASE_CHECKPOINT = "results/{model}/round0/checkpoint"
BASE_EVAL = "results/{model}/round0/eval.json"
ROUND_KEY = "{model}/{condition}/seed{seed}/round{round}"
BASE_KEY = "{model}/round0"
GENERATED = "results/{model}/{condition}/seed{seed}/round{round}/generated.jsonl"
FILTERED = "results/{model}/{condition}/seed{seed}/round{round}/filtered.jsonl"
FILTER_STATS = "results/{model}/{condition}/seed{seed}/round{round}/filter_stats.json"
ROUND_CHECKPOINT = "results/{model}/{condition}/seed{seed}/round{round}/checkpoint"
ROUND_EVAL = "results/{model}/{condition}/seed{seed}/round{round}/eval.json"
# round 1 done once for every condition with the same generation (prompt + sampling) and filter chain: the
# per-condition round-1 corpora above are links to these (rule link_shared_round)
SHARED_KEY = "{model}/shared/seed{seed}/round{round}/{generation}"
SHARED_CHAIN_KEY = os.path.join(SHARED_KEY, "{chain}")
SHARED_GENERATED = (
    "results/{model}/shared/seed{seed}/round{round}/{generation}/generated.jsonl"
)
SHARED_FILTERED = (
    "results/{model}/shared/seed{seed}/round{round}/{generation}/{chain}/filtered.jsonl"
)
SHARED_FILTER_STATS = "results/{model}/shared/seed{seed}/round{round}/{generation}/{chain}/filter_stats.json"
# rounds after the first, which every condition generates and filters itself
LATER_ROUND = r"[2-9]|[1-9]\d+"
SUMMARY = "results/summary.csv"
FIGURE_PDF = "results/figures/collapse.pdf"
FIGURE_PNG = "results/figures/collapse.png"
MANIFEST = "results/manifest.json"
ARCHIVE = "results/archive/{name}.tar.gz"
TASK_JSONL = "results/data/tasks/{task}.jsonl"
PERPLEXITY_JSONL = "results/data/perplexity/{set}.jsonl"
TAIL_VOCABULARY = "results/data/tail_vocabulary.json"
SUMMARY_CI = "results/summary_ci.csv"
VERDICT = "results/verdict.csv"
HUB_FETCHED = "results/data/hub_fetched.json"
# what the fetch stage downloads; jobs that read the hub cache depend on its record, so it runs first
FETCH_PLAN = fetch_plan(config)
FETCHED = {"fetched": HUB_FETCHED} if needs_fetch(FETCH_PLAN) else {}


def log_path(step, key=""):
    """results/logs/<key>/<step>.log: the key mirrors the target's own path."""
    return os.path.join(RESULTS, "logs", key, f"{step}.log")


def benchmark_path(step, key=""):
    return os.path.join(RESULTS, "benchmarks", key, f"{step}.tsv")


wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    condition=r"[A-Za-z0-9][A-Za-z0-9_.+=-]*",
    seed=r"\d+",
    round=r"[1-9]\d*",
    generation=r"gen-[0-9a-f]{16}",
    chain=r"filters-[0-9a-f]{16}",
    name=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    task=r"[A-Za-z0-9][A-Za-z0-9_]*",
    set=r"[A-Za-z0-9][A-Za-z0-9_]*",


def checkpoint_output(pattern):
    """A checkpoint directory() output, protected() when config key protect_checkpoints is on: Snakemake then
    write-protects the finished tree and refuses to rebuild it when something upstream changes.
    """
    return (
        protected(directory(pattern))
        if config["protect_checkpoints"]
        else directory(pattern)
    )


def checkpoint_of(model, condition, seed, round_):
    """The checkpoint of a round; round 0 is the base model shared by every condition and seed."""
    if int(round_) == 0:
        return BASE_CHECKPOINT.format(model=model)
    return ROUND_CHECKPOINT.format(
        model=model, condition=condition, seed=seed, round=round_
    )


def previous_checkpoint(wc):
    """Round r is generated by (and continues from) the model of round r-1."""
    return checkpoint_of(wc.model, wc.condition, wc.seed, int(wc.round) - 1)


def condition(name):
    """The resolved condition (defaults merged and checked), resolved once at load time: input
    functions ask for it for every job, and a large grid has thousands."""
    return RESOLVED_CONDITIONS[name]


def section(model, name):
    """A model's generation, training or evaluation section with its overrides (merged at load time)."""
    return MODEL_SECTIONS[model][name]


def condition_part(key):
    """A params entry holding one key of the job's condition (prompt, sampling, filters, data, init): each
    job carries only what its script reads, so editing a condition's filters reruns no generation.
    """
    return lambda wc: RESOLVED_CONDITIONS[wc.condition][key]


def base_spec(model):
    """The base section a base_model job reads, without the resume cadence of its pre-training (read at run
    time: config.RUNTIME_ONLY)."""
    base = config["models"][model]["base"]
    if "training" not in base:
        return base
    return {**base, "training": without_runtime_only(base["training"], "training")}


def trusts_remote_code(model):
    """models.<model>.base.trust_remote_code, a param of every job that loads the model's checkpoints."""
    return config["models"][model]["base"]["trust_remote_code"]


def per_model(value_of):
    """A params entry that depends on the model only: a constant when every model has the same value,
    else a lookup by the model wildcard. Snakemake inspects and calls a callable param for every job.
    """
    values = {m: value_of(m) for m in MODELS}
    if all(v == values[MODELS[0]] for v in values.values()):
        return values[MODELS[0]]
    return lambda wc: values[wc.model]


def job_seed(wc, stage):
    """Seeds derive from (global seed, model, condition, seed index, round, stage), never job order; a shared
    round-1 job's from its slice keys in place of a condition name, so that it does not depend on which
    conditions share it."""
    owner = wc.get("condition") or "/".join(
        filter(None, (wc.get("generation"), wc.get("chain")))
    )
    return derive_seed(
        config["seed"], wc.model, owner, wc.get("seed", ""), wc.get("round", 0), stage
    )


# slice hashes naming the shared round-1 folders (config.shared_round_keys); the spec of each, taken from any
# condition that has it
GENERATION_OF = {c: shared_round_keys(RESOLVED_CONDITIONS[c])[0] for c in CONDITIONS}
CHAIN_OF = {c: shared_round_keys(RESOLVED_CONDITIONS[c])[1] for c in CONDITIONS}
SHARED_GENERATIONS = {
    GENERATION_OF[c]: round1_generation(RESOLVED_CONDITIONS[c]) for c in CONDITIONS
}
SHARED_CHAINS = {CHAIN_OF[c]: RESOLVED_CONDITIONS[c]["filters"] for c in CONDITIONS}


def shared_part(key):
    """A params entry of a shared round-1 generation: its prompt or sampling."""
    return lambda wc: SHARED_GENERATIONS[wc.generation][key]


def shared_round(wc):
    """The shared round-1 corpora a condition's round-1 paths link to."""
    key = dict(
        model=wc.model,
        seed=wc.seed,
        round=wc.round,
        generation=GENERATION_OF[wc.condition],
        chain=CHAIN_OF[wc.condition],
    )
    return {
        "generated": SHARED_GENERATED.format(**key),
        "filtered": SHARED_FILTERED.format(**key),
        "stats": SHARED_FILTER_STATS.format(**key),
    }


# config key of resources.<kind> -> the Snakemake resource the Slurm plugin (2.8.0) reads: gpus is Snakemake's
# standard `gpu` (--gpus=N, or --gpus=<gpu_model>:N), gres/constraint/slurm_partition/slurm_extra are the
# plugin's own (--gres, -C, -p, verbatim sbatch flags). gpu_memory_gb is read by the memory plan only.
SLURM_RESOURCES = {
    "mem_mb": "mem_mb",
    "runtime": "runtime",
    "cpus_per_task": "cpus_per_task",
    "gpus": "gpu",
    "gpu_model": "gpu_model",
    "gres": "gres",
    "constraint": "constraint",
    "slurm_partition": "slurm_partition",
    "slurm_extra": "slurm_extra",
}
# doubled on each retry: a job killed for memory or time gets twice as much on its next attempt
ESCALATING = ("mem_mb", "runtime")


def planned(model, kind, key, default):
    """The default of a resource of a model's kind of job: for runtime the cost plan's (selftrain.cost_plan.
    runtime_default), else the rule's."""
    if key != "runtime":
        return default
    return runtime_default(PLANNED_RUNTIMES.get((model, kind)), default)


def resource(kind, key, default=None):
    """A scheduler resource of a kind of job: the model's override (models.<m>.resources.<kind>.<key>), the
    config's (resources.<kind>.<key>) or the default (planned()); memory and runtime double with each retry. A
    value no model overrides is a plain constant: Snakemake inspects and calls a callable for every job.
    """
    value = config["resources"].get(kind, {}).get(key, default)
    by_model = {
        m: config_resource(config, m, kind, key, planned(m, kind, key, default))
        for m in config["models"]
    }
    escalates = key in ESCALATING
    if not escalates and all(v == value for v in by_model.values()):
        return value

    def get(wc, attempt):
        v = by_model.get(wc.get("model", ""), value)
        return v * 2 ** (attempt - 1) if escalates and v is not None else v

    return get


def job_threads(kind, cpus):
    """threads: the CPUs the job is given (cpus_per_task of its kind, default cpus), so that a step computes
    on every CPU Slurm grants it; locally Snakemake caps threads at --cores."""
    return resource(kind, "cpus_per_task", cpus)


def job_resources(kind, mem_mb, runtime, cpus, gpus=0):
    """Every scheduler resource of a kind of job, as `resources: **job_resources(...)`: the rule's defaults
    for memory, time, CPUs and GPUs, plus whatever else the config sets for the kind or a model. A kind that
    sets gres asks for its GPUs there only, not again as `gpu` (the plugin treats `gpu` and a gpu gres as exclusive: its partitions.parse_gpu_requirements).
    """
    defaults = {
        "mem_mb": mem_mb,
        "runtime": runtime,
        "cpus_per_task": cpus,
        "gpus": gpus,
    }
    keys = set(config["resources"].get(kind, {})) | {
        k
        for spec in config["models"].values()
        for k in spec.get("resources", {}).get(kind, {})
    }
    if "gres" in keys:
        defaults.pop("gpus")
        keys.discard("gpus")
    return {
        SLURM_RESOURCES[k]: resource(kind, k, defaults.get(k))
        for k in [*defaults, *sorted(keys - set(defaults))]
        if k in SLURM_RESOURCES
    }


def all_round_evals():
    return expand(
        ROUND_EVAL,
        model=MODELS,
        condition=CONDITIONS,
        seed=SEEDS,
        round=range(1, ROUNDS + 1),
    )


def base_inputs(wc):
    """A pretrain-kind base needs the corpus and its tokenizer; hub and local bases need nothing here."""
    kind = config["models"][wc.model]["base"]["kind"]
    if kind == "pretrain":
        return {"train": TRAIN_JSONL, "tokenizer": TOKENIZER.format(model=wc.model)}
    return dict(FETCHED) if kind == "hub" else {}


def generate_inputs(wc):
    """Round r-1's model, plus the documents the prompting strategy takes prompts from: real text, or
    (self_prefix after round 1) round r-1's own generated corpus. A shared round 1 reads the base model.
    """
    from selftrain.prompts import strategy_reads

    if "generation" in wc.keys():
        inputs = {"model": BASE_CHECKPOINT.format(model=wc.model)}
        prompt = SHARED_GENERATIONS[wc.generation]["prompt"]
    else:
        inputs = {"model": previous_checkpoint(wc)}
        prompt = condition(wc.condition)["prompt"]
    reads = strategy_reads(prompt, int(wc.round))
    if "real" in reads:
        inputs["real"] = TRAIN_JSONL
    if "previous" in reads:
        inputs["previous"] = GENERATED.format(
            model=wc.model,
            condition=wc.condition,
            seed=wc.seed,
            round=int(wc.round) - 1,
        )
    return inputs


def filter_inputs(wc):
    """The generated corpus, round r-1's model and what the condition's filters read besides: the base
    model, real text, round 1's generated corpus (the detector's machine examples). One function, not
    one per input: Snakemake's cost per job grows with the callables it evaluates."""
    from selftrain.filters import filter_needs

    if "chain" in wc.keys():  # a shared round 1: the base model generated it
        generated = SHARED_GENERATED.format(
            model=wc.model, seed=wc.seed, round=wc.round, generation=wc.generation
        )
        filters, reference, model = (
            SHARED_CHAINS[wc.chain],
            generated,
            BASE_CHECKPOINT.format(model=wc.model),
        )
    else:
        key = dict(model=wc.model, condition=wc.condition, seed=wc.seed, round=wc.round)
        generated, filters, model = (
            GENERATED.format(**key),
            condition(wc.condition)["filters"],
            previous_checkpoint(wc),
        )
        reference = GENERATED.format(**{**key, "round": 1})
    paths = {
        "base": BASE_CHECKPOINT.format(model=wc.model),
        "real": TRAIN_JSONL,
        "reference": reference,
    }
    needs = filter_needs(filters)
    return {
        **{k: v for k, v in paths.items() if k in needs},
        "generated": generated,
        "model": model,
    }


def train_inputs(wc):
    """Round r continues from round r-1 (init previous) or restarts from the base model (init base), and
    trains on the filtered corpora its data regime names."""
    from selftrain.regimes import regime_class

    spec = condition(wc.condition)
    regime = regime_class(spec["data"])
    init = (
        BASE_CHECKPOINT.format(model=wc.model)
        if spec["init"] == "base"
        else previous_checkpoint(wc)
    )
    inputs = {
        "init": init,
        "synthetic": [
            FILTERED.format(
                model=wc.model, condition=wc.condition, seed=wc.seed, round=r
            )
            for r in regime.needs_rounds(int(wc.round))
        ],
    }
    if "real" in regime.reads(spec["data"]):
        inputs["real"] = TRAIN_JSONL
    return inputs


def local_tasks(model):
    """The configured downstream tasks of a model that the pipeline builds from the held-out split."""
    from selftrain.downstream import LOCAL_TASKS

    tasks = section(model, "evaluation")["downstream"]["tasks"]
    return [t["name"] for t in tasks if t["name"] in LOCAL_TASKS]


# corpora whose diversity a round's eval.json records: round 0 the held-out real text (the reference),
# round r its generated and filtered corpora
BASE_CORPORA = {"real": HELDOUT_JSONL}
ROUND_CORPORA = {"generated": GENERATED, "filtered": FILTERED}


def eval_corpora(wc):
    """The corpora of BASE_CORPORA or ROUND_CORPORA of a checkpoint's evaluation, as paths."""
    if "condition" not in wc.keys():
        return dict(BASE_CORPORA)
    key = dict(model=wc.model, condition=wc.condition, seed=wc.seed, round=wc.round)
    return {name: path.format(**key) for name, path in ROUND_CORPORA.items()}


def eval_inputs(wc):
    """A checkpoint's evaluation reads its real sets, its local task items, the vocabulary tail and its corpora."""
    sets = sorted(config["evaluation"]["perplexity_sets"])
    round_ = wc.round if "round" in wc.keys() else 0
    return {
        "model": checkpoint_of(
            wc.model, wc.get("condition", ""), wc.get("seed", ""), round_
        ),
        "heldout": HELDOUT_JSONL,
        "perplexity_sets": [PERPLEXITY_JSONL.format(set=s) for s in sets],
        "tasks": [TASK_JSONL.format(task=t) for t in local_tasks(wc.model)],
        "tail": TAIL_VOCABULARY,
        "corpora": list(eval_corpora(wc).values()),
        **(FETCHED if FETCH_PLAN["tasks"] else {}),
    }
