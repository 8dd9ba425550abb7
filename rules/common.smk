# What the rules of every stage share: the config checked at load and its slices, every target path (a pattern
# constant, or checkpoint_of), wildcard constraints, log, benchmark and resource helpers. A stage's own input
# functions and params helpers are in rules/functions/<stage>.smk, included by its rules/<stage>.smk (a file
# that defines functions holds no rules: snakemake --lint flags the mix).
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from selftrain.config import (
    branches,
    check_paths,
    generator_model,
    job_section,
    locate,
    named_scorers,
    read_config_files,  # noqa: E402
    resolve_condition,
    shared_round_keys,
    taught_keys,
    validate_config,
)
from selftrain.cost_plan import planned_runtimes, runtime_default  # noqa: E402
from selftrain.hub import fetch_plan, needs_fetch  # noqa: E402
from selftrain.io import InputError  # noqa: E402
from selftrain.memory_plan import check_memory, gpus as gpus_of  # noqa: E402
from selftrain.arrays import check_array_jobs  # noqa: E402
from selftrain.signatures import cache_signatures  # noqa: E402
from selftrain.resources import (
    config_resource,
    partition_limits,
    resource_key,
)  # noqa: E402
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
    # checks and plans only the main process needs: a Slurm job's snakemake (exec mode remote) runs one job whose
    # config the main process checked. Its runtime resource is no request there: Snakemake caps each resource at
    # the --resources the main process passes (rules.py expand_resources, constraints=global_resources) and the
    # jobstep plugin reads cpus_per_task and the GPUs only (snakemake_executor_plugin_slurm_jobstep), so a job
    # takes the rules' defaults (no plan) at no cost to what Slurm was asked for.
    if workflow.is_main_process:
        check_paths(config)
        # before any job: a batch that cannot be split, a plan that cannot fit the GPUs
        check_memory(config)
    # the runtime of each (model, kind) the cost plan estimates, for kinds whose config sets none (resource())
    PLANNED_RUNTIMES = planned_runtimes(config) if workflow.is_main_process else {}
except InputError as e:
    raise WorkflowError(str(locate(e, CONFIG_SOURCES))) from None

MODELS = sorted(config["models"])
CONDITIONS = sorted(config["conditions"])
# resolved once: input functions and params of thousands of jobs look conditions up
RESOLVED_CONDITIONS = {name: resolve_condition(config, name) for name in CONDITIONS}
SEEDS = config["seeds"]
ROUNDS = config["rounds"]
# (model, condition) of every trained branch: each condition with its students (config.students); a model no
# condition trains is a teacher or scorer only, with a round 0 and no rounds
BRANCHES = branches(config)
# the teacher (a name of models) that writes a condition's corpora, None where the model being trained does
GENERATOR_OF = {c: generator_model(RESOLVED_CONDITIONS[c]) for c in CONDITIONS}
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
# each condition's shared round-1 folders: the slice hashes {generation} and {chain} (config.shared_round_keys)
GENERATION_OF = {c: shared_round_keys(RESOLVED_CONDITIONS[c])[0] for c in CONDITIONS}
CHAIN_OF = {c: shared_round_keys(RESOLVED_CONDITIONS[c])[1] for c in CONDITIONS}
# a shared generation's teacher, and the models that score a condition's (or a shared) filter chain
SHARED_GENERATOR = {GENERATION_OF[c]: GENERATOR_OF[c] for c in CONDITIONS}
SCORERS_OF = {c: named_scorers(RESOLVED_CONDITIONS[c]["filters"]) for c in CONDITIONS}
# a teacher's corpus of a round, once for every student and condition that would get it the same way (teacher,
# prompt, sampling, budget: config.taught_key), its seed from that key; a student's round folder links to it
TAUGHT_KEY = "{teacher}/teaching/seed{seed}/round{round}/{taught}"
TAUGHT_GENERATED = (
    "results/{teacher}/teaching/seed{seed}/round{round}/{taught}/generated.jsonl"
)
# {round: taught key} of each branch (model, condition) whose condition has a teacher
TAUGHT_OF = {
    (m, c): taught_keys(config, RESOLVED_CONDITIONS[c], m)
    for m, c in BRANCHES
    if GENERATOR_OF[c]
}
# a shared round-1 generation with a teacher, per student: the teacher's corpus it is
SHARED_TAUGHT = {(m, GENERATION_OF[c]): keys[1] for (m, c), keys in TAUGHT_OF.items()}
SHARED_SCORERS = {CHAIN_OF[c]: SCORERS_OF[c] for c in CONDITIONS}
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
CONTRASTS = "results/contrasts.csv"
READING = "results/reading.md"
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
    teacher=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    taught=r"gen-[0-9a-f]{16}",


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


def taught_corpus(model, condition, seed, round_):
    """The teacher's corpus a branch with a teacher reads in a round (TAUGHT_GENERATED)."""
    return TAUGHT_GENERATED.format(
        teacher=GENERATOR_OF[condition],
        seed=seed,
        round=round_,
        taught=TAUGHT_OF[model, condition][int(round_)],
    )


def shared_generated(model, seed, round_, generation):
    """A shared round-1 corpus of a model: its own base model's, or a teacher's (taught_corpus)."""
    key = SHARED_TAUGHT.get((model, generation))
    if key:
        return TAUGHT_GENERATED.format(
            teacher=SHARED_GENERATOR[generation], seed=seed, round=round_, taught=key
        )
    return SHARED_GENERATED.format(
        model=model, seed=seed, round=round_, generation=generation
    )


def one_of(names):
    """A wildcard constraint matching exactly these names (none: a pattern that matches nothing)."""
    return "|".join(re.escape(n) for n in sorted(names)) or "(?!)"


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
    round-1 job's from its slice keys in place of a condition name, and a teacher's corpus's from the teacher and its
    taught key, so that it does not depend on which conditions (or students) share it.
    """
    owner = wc.get("condition") or "/".join(
        filter(None, (wc.get("generation"), wc.get("chain"), wc.get("taught")))
    )
    # a teacher's corpus: the teacher's name in place of a student's
    model = wc.get("model") or wc.get("teacher")
    return derive_seed(
        config["seed"], model, owner, wc.get("seed", ""), wc.get("round", 0), stage
    )


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
# doubled on each retry up to the partition's limit (partition_limits): a job killed for memory or time gets
# twice as much on its next attempt, never more than its partition grants
ESCALATING = {"mem_mb": "max_mem_mb", "runtime": "max_runtime"}
# Every job of this pipeline is one process tree on one node: torchrun --standalone (round_training.py), vLLM and
# lm-eval in one process, the CPU steps. Without --nodes Slurm may spread a multi-GPU request over several nodes,
# and torchrun would see only the local node's GPUs; the plugin sends --nodes only where the `nodes` resource is
# set (snakemake_executor_plugin_slurm 2.8.0, submit_string.get_submit_command).
ONE_NODE = {"nodes": 1}
# the partition of a job whose kind names none: the profile's default-resources slurm_partition (as written there)
_defaults = workflow.resource_settings.default_resources
DEFAULT_PARTITION = (
    _defaults["slurm_partition"].raw
    if _defaults and "slurm_partition" in _defaults
    else None
)
# the limits of each partition a job names, asked once: Slurm answers the main process (a job computes its own
# resources again, but Slurm has granted them already)
PARTITION_LIMITS = {}


def limits(model, kind):
    """(limits, where they come from) of the partition a model's kind of job is sent to (selftrain.resources.
    partition_limits)."""
    partition = (
        config_resource(config, model, kind, "slurm_partition", DEFAULT_PARTITION)
        if model in config["models"]
        else config["resources"].get(kind, {}).get("slurm_partition", DEFAULT_PARTITION)
    )
    if partition not in PARTITION_LIMITS:
        PARTITION_LIMITS[partition] = partition_limits(
            config, partition, workflow.is_main_process
        )
    return PARTITION_LIMITS[partition]


def planned(model, kind, key, default):
    """The default of a resource of a model's kind of job: for runtime the cost plan's (selftrain.cost_plan.
    runtime_default), else the rule's."""
    if key != "runtime":
        return default
    return runtime_default(PLANNED_RUNTIMES.get((model, kind)), default)


def teacher_of(wc):
    """The teacher that writes a generate job's corpus (None: the model being trained)."""
    if "teacher" in wc.keys():
        return wc.teacher
    if "generation" in wc.keys():
        return SHARED_GENERATOR[wc.generation]
    return GENERATOR_OF[wc.condition] if "condition" in wc.keys() else None


def scorers_of(wc):
    """The models (names of models) a filter job's chain scores with."""
    if "chain" in wc.keys():
        return SHARED_SCORERS[wc.chain]
    return SCORERS_OF[wc.condition] if "condition" in wc.keys() else []


def job_model(kind, wc):
    """The model whose resources a job of a kind asks for: a teacher's for the corpus it writes, the first named
    scorer's for a filter chain it scores, else the job's own model (the model being trained).
    """
    if kind == "generate":
        return teacher_of(wc) or wc.get("model", "")
    if kind == "filter":
        return next(iter(scorers_of(wc)), wc.get("model", ""))
    return wc.get("model", "")


ARRAYS_CHECKED = []


def resource(kind, key, default=None):
    """A scheduler resource of a kind of job: its model's (job_model) override (models.<m>.resources.<kind>.<key>), the
    config's (resources.<kind>.<key>) or the default (planned()); memory and runtime double with each retry, up to
    the partition's limits. A
    value no model overrides is a plain constant: Snakemake inspects and calls a callable for every job.
    """
    value = config["resources"].get(kind, {}).get(key, default)
    by_model = {
        m: (
            None  # a model that asks for its GPUs as gres (job_resources)
            if key in ("gpus", "gpu_model") and config_resource(config, m, kind, "gres")
            else config_resource(config, m, kind, key, planned(m, kind, key, default))
        )
        for m in config["models"]
    }
    escalates = key in ESCALATING
    if not escalates and all(v == value for v in by_model.values()):
        return value
    caps = (
        {m: limits(m, kind)[0].get(ESCALATING[key]) for m in by_model}
        if escalates
        else {}
    )

    def get(wc, attempt):
        if (
            not ARRAYS_CHECKED
        ):  # the executor's settings exist once the workflow runs, not while it is parsed
            ARRAYS_CHECKED.append(check_array_jobs(workflow, workflow.rules))
        model = job_model(kind, wc)
        v = by_model.get(model, value)
        if not escalates or v is None:
            return v
        cap = (
            caps[model] if model in caps else limits(None, kind)[0].get(ESCALATING[key])
        )
        return (
            v * 2 ** (attempt - 1) if cap is None else min(v * 2 ** (attempt - 1), cap)
        )

    # what an array job cannot hold (check_array_jobs): a value per model, a value per attempt
    get.varies = [
        *(["model"] if len(set(by_model.values())) > 1 else []),
        *(["attempt"] if escalates else []),
    ]
    return get


def job_threads(kind, cpus):
    """threads: the CPUs the job is given (cpus_per_task of its kind, default cpus), so that a step computes
    on every CPU Slurm grants it; locally Snakemake caps threads at --cores."""
    return resource(kind, "cpus_per_task", cpus)


def job_resources(kind, mem_mb, runtime, cpus, gpus=0):
    """Every scheduler resource of a kind of job, as `resources: **job_resources(...)`: one node, the rule's defaults
    for memory, time, CPUs and GPUs, plus whatever else the config sets for the kind or a model; each model's first
    attempt checked against its partition (check_partition). A model that sets gres asks for its GPUs there only,
    not again as `gpu` (the plugin treats `gpu` and a gpu gres as exclusive: its partitions.parse_gpu_requirements);
    the other models keep their gpus.
    """
    defaults = {
        "mem_mb": mem_mb,
        "runtime": runtime,
        "cpus_per_task": cpus,
        "gpus": gpus,
    }
    check_partition(kind, defaults)
    keys = set(config["resources"].get(kind, {})) | {
        k
        for spec in config["models"].values()
        for k in spec.get("resources", {}).get(kind, {})
    }
    if "gres" in keys and all(
        config_resource(config, m, kind, "gres") for m in config["models"]
    ):
        defaults.pop("gpus")
        keys -= {"gpus", "gpu_model"}
    return ONE_NODE | {
        SLURM_RESOURCES[k]: resource(kind, k, defaults.get(k))
        for k in [*defaults, *sorted(keys - set(defaults))]
        if k in SLURM_RESOURCES
    }


def runs(model, kind):
    """Whether a model has jobs of a kind: generate, filter and train jobs only where it is trained, a teacher (its
    generation) or a named scorer (its filter chains)."""
    if kind == "train":
        return any(m == model for m, _ in BRANCHES)
    if kind == "generate":
        return runs(model, "train") or model in GENERATOR_OF.values()
    if kind == "filter":
        return runs(model, "train") or any(model in s for s in SCORERS_OF.values())
    return True


def check_partition(kind, defaults):
    """Before any job: each model's first attempt of a kind of job fits its partition (limits()): its GPUs on one
    node, its memory and runtime within the partition's (retries escalate up to them). One clear error naming the
    config key otherwise."""
    for model in config["models"]:
        allowed, source = limits(model, kind)
        if not allowed or not runs(model, kind):
            continue
        first = lambda key: config_resource(
            config, model, kind, key, planned(model, kind, key, defaults[key])
        )
        gres = config_resource(config, model, kind, "gres")
        asked = [
            (
                "gres" if gres else "gpus",
                gpus_of(config, model, kind),
                "gpus_per_node",
                "GPUs on one node",
            ),
            ("mem_mb", first("mem_mb"), "max_mem_mb", "MB"),
            ("runtime", first("runtime"), "max_runtime", "minutes"),
        ]
        for key, value, cap, unit in asked:
            if allowed.get(cap) is None or value <= allowed[cap]:
                continue
            unset = config_resource(config, model, kind, key) is None
            message = (
                f"invalid config:\n  config key '{resource_key(config, model, kind, key)}'"
                + (
                    " (unset: the rule's default or the cost plan's runtime)"
                    if unset
                    else ""
                )
                + f": the {kind} job of model {model} asks for {value} {unit}, more than {source} allows"
                + f" ({cap} {allowed[cap]})"
            )
            raise WorkflowError(
                str(locate(InputError(message), CONFIG_SOURCES))
            ) from None
