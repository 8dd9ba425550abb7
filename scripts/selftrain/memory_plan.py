"""Memory plan: bytes per GPU of weights, gradients, optimizer state and activations of every model's train,
generate, filter and evaluate jobs at the configured batch, block and sharding; checked before any job runs.

Estimates, not measurements of a GPU: parameter counts are exact (counted from the architecture, as
Olmo2ForCausalLM builds it; a test checks the count against a real model), the activation coefficients were
measured on CPU (saved-tensor bytes of tiny Olmo2 models, see ACTIVATION_*), the rest follows from dtypes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .hub import hub_dir
from .io import InputError
from .resources import config_resource, gpu_count, resource_key

# config.json of the preset's hub models (hidden, intermediate, layers, heads, kv heads, vocab, tied, context):
# 7B: https://huggingface.co/allenai/OLMo-2-1124-7B/blob/main/config.json, 13B:
# https://huggingface.co/allenai/OLMo-2-1124-13B/blob/main/config.json (both seen through the search tool).
# 1B: not seen: the values of OLMo-2's 1B report (16 layers of width 2048, 100,352-token vocabulary, untied;
# 1.485B parameters); a config.json in the hub cache (the fetch stage puts it there) takes precedence.
HUB_ARCHITECTURES = {
    "allenai/OLMo-2-0425-1B": (2048, 8192, 16, 16, 16, 100352, False, 4096),
    "allenai/OLMo-2-1124-7B": (4096, 11008, 32, 32, 32, 100352, False, 4096),
    "allenai/OLMo-2-1124-13B": (5120, 13824, 40, 40, 40, 100352, False, 4096),
}
# elements saved for the backward per token and decoder layer ~ 20 h + 5 i: measured with
# torch.autograd.graph.saved_tensors_hooks on Olmo2 layers (h 64-128, i 256-512, 4-8 heads, blocks of 128-256
# tokens, SDPA attention): 2,057-3,466 elements, every one at or below 20 h + 5 i
ACTIVATION_PER_HIDDEN, ACTIVATION_PER_INTERMEDIATE = 20, 5
# logits: bf16 logits, their fp32 copy and fp32 log-softmax kept for the backward, plus the fp32 gradient
# the backward makes (measured in fp32: 6.2-9.3 bytes per token and vocabulary entry for logits + log-softmax)
LOGIT_BYTES = 14
# vLLM's LLM() default gpu_memory_utilization (the generate step does not set it)
VLLM_DEFAULT_UTILIZATION = 0.9
# share of a card a PyTorch job may plan for: the rest is CUDA context and allocator fragmentation (our margin)
TORCH_USABLE = 0.9
GB = 1e9
REMEDIES = {
    "train": "shard over more GPUs (resources.train.gpus with training.sharding fsdp), lower "
             "training.micro_batch_size or turn on training.activation_checkpointing",
    "generate": "use generation.backend vllm over more GPUs (resources.generate.gpus) or lower generation.batch_size",
    "filter": "lower the perplexity filter's batch_size or max_tokens",
    "evaluate": "lower evaluation.batch_size or evaluation.max_length, or use evaluation.backend vllm over more GPUs",
}


def architecture(config: dict, model: str) -> dict | None:
    """The model's shape: a pretrain base's architecture, a local checkpoint's or a cached hub snapshot's
    config.json (in hub_cache, else huggingface_hub's cache), else the table above; None when unknown (the plan
    then skips the model)."""
    base = config["models"][model]["base"]
    if base["kind"] == "pretrain":
        a = base["architecture"]
        return {"hidden": a["hidden_size"], "intermediate": a["intermediate_size"], "layers": a["num_layers"],
                "heads": a["num_heads"], "kv_heads": a.get("num_kv_heads", a["num_heads"]),
                "vocab": base.get("tokenizer", {}).get("vocab_size", 4096),
                "tied": a.get("tie_word_embeddings", True), "context": a["max_position_embeddings"]}
    if base["kind"] == "local":
        paths = [Path(base["path"]) / "config.json"]
    else:
        # the fetch stage's cache (config key hub_cache) first, then huggingface_hub's own
        caches = [hub_dir(config["hub_cache"]), Path(os.environ.get("HF_HUB_CACHE") or Path(
            os.environ.get("HF_HOME", "~/.cache/huggingface"), "hub")).expanduser()]
        paths = [cache / f"models--{base['hub_id'].replace('/', '--')}" / "snapshots" / base["revision"] / "config.json"
                 for cache in caches]
    path = next((p for p in paths if p.is_file()), None)
    if path is not None:
        c = json.loads(path.read_text())
        return {"hidden": c["hidden_size"], "intermediate": c["intermediate_size"], "layers": c["num_hidden_layers"],
                "heads": c["num_attention_heads"], "kv_heads": c.get("num_key_value_heads", c["num_attention_heads"]),
                "vocab": c["vocab_size"], "tied": c.get("tie_word_embeddings", False),
                "context": c["max_position_embeddings"]}
    known = HUB_ARCHITECTURES.get(base.get("hub_id"))
    if known is None:
        return None
    return dict(zip(("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab", "tied", "context"), known))


def layer_parameters(a: dict) -> int:
    """One Olmo2 decoder layer: q/k/v/o projections, q and k RMSNorms, SwiGLU MLP, two RMSNorms."""
    h, kv = a["hidden"], a["hidden"] // a["heads"] * a["kv_heads"]
    return 2 * h * h + 2 * h * kv + (h + kv) + 3 * h * a["intermediate"] + 2 * h


def parameters(a: dict) -> int:
    embeddings = a["vocab"] * a["hidden"] * (1 if a["tied"] else 2)
    return embeddings + a["layers"] * layer_parameters(a) + a["hidden"]


def kv_bytes_per_token(a: dict) -> int:
    """bf16 keys and values of every layer for one token."""
    return 2 * 2 * a["layers"] * a["hidden"] // a["heads"] * a["kv_heads"]


def train_plan(a: dict, cfg: dict, gpus: int) -> dict:
    """Per GPU: fp32 master weights, fp32 gradients and AdamW's two fp32 moments, sharded over the GPUs with
    FSDP2; plus the bf16 copies in flight (two gathered layers under FSDP2, autocast's copy of all weights
    without it) and the activations of one micro-batch."""
    from .training import batch_layout, resolved

    processes = max(1, gpus)
    micro, _ = batch_layout(cfg, processes)
    sharding, precision = resolved(cfg, processes, gpu=True)
    shards = processes if sharding == "fsdp" else 1
    p, width = parameters(a), 2 if precision == "bf16" else 4
    copies = 0
    if precision == "bf16":
        copies = 2 * 2 * layer_parameters(a) if sharding == "fsdp" else 2 * p
    tokens = micro * cfg["block_size"]
    layer = (ACTIVATION_PER_HIDDEN * a["hidden"] + ACTIVATION_PER_INTERMEDIATE * a["intermediate"]) * width * tokens
    if cfg.get("activation_checkpointing"):  # every layer keeps its input; one layer is recomputed at a time
        layers = a["layers"] * a["hidden"] * width * tokens + layer
    else:
        layers = a["layers"] * layer
    return {"weights": 4 * p // shards + copies, "gradients": 4 * p // shards, "optimizer": 8 * p // shards,
            "activations": layers + LOGIT_BYTES * a["vocab"] * tokens,
            "note": f"{sharding} over {processes}, micro-batch {micro}x{cfg['block_size']}"
                    + (", checkpointing" if cfg.get("activation_checkpointing") else "")}


def inference_plan(a: dict, batch: int, length: int, gpus: int, vllm: bool) -> dict:
    """bf16 weights (split over the GPUs by vLLM's tensor parallelism) and the keys and values of one batch;
    lm-eval's hf model also holds the batch's fp32 log-softmax."""
    shards = max(1, gpus) if vllm else 1
    tokens = batch * length
    logits = 0 if vllm else (2 + 4) * a["vocab"] * tokens
    return {"weights": 2 * parameters(a) // shards, "gradients": 0, "optimizer": 0,
            "activations": kv_bytes_per_token(a) * tokens // shards + logits,
            "note": f"{'vllm' if vllm else 'hf'}, batch {batch}x{length}"}


def roles(config: dict, model: str) -> tuple[list[dict], list[dict], list[dict]]:
    """(conditions a model is trained in, conditions whose corpora it writes, perplexity steps it scores), of the
    resolved conditions: it writes its own branches' corpora (naive recursion) and, as a teacher, those of every
    condition naming it; it scores its own branches' steps by current or base and every step naming it."""
    from .config import SCORER_ROLES, generator_model, resolve_condition, students

    trains, writes, scores = [], [], []
    for name in sorted(config["conditions"]):
        c = resolve_condition(config, name)
        own = model in students(config, c)
        if own:
            trains.append(c)
        if generator_model(c) == model or (own and generator_model(c) is None):
            writes.append(c)
        scores += [f for f in c["filters"] if f["name"] == "perplexity"
                   and (f["scorer"] == model or (own and f["scorer"] in SCORER_ROLES))]
    return trains, writes, scores


def plans(config: dict, model: str):
    """(kind, plan) of each job kind a model runs; none when its shape is unknown. A teacher or scorer only has its
    base, its round-0 evaluation and the generate or filter jobs it runs for others, no train job."""
    from .config import model_section

    a = architecture(config, model)
    if a is None:
        return
    trains, writes, scoring = roles(config, model)
    gen, ev = model_section(config, model, "generation"), model_section(config, model, "evaluation")
    if config["models"][model]["base"]["kind"] == "pretrain":
        yield "base", train_plan(a, config["models"][model]["base"]["training"], gpus(config, model, "base"))
    if trains:
        yield "train", train_plan(a, model_section(config, model, "training"), gpus(config, model, "train"))
    if writes:
        # the longest prompt and continuation of the corpora it writes (a teacher's generation settings are its own)
        longest = max(c["sampling"]["max_new_tokens"] + c["prompt"].get("prefix_tokens", 0) for c in writes)
        vllm_gen = gen["backend"] == "vllm"
        # vLLM pages its KV cache: only one sequence must fit, the rest waits; the hf generator holds its batch
        yield "generate", inference_plan(a, 1 if vllm_gen else gen["batch_size"], longest,
                                         gpus(config, model, "generate"), vllm_gen)
    if scoring:
        batch = max(f.get("batch_size", 16) for f in scoring)
        yield "filter", inference_plan(a, batch, max(f.get("max_tokens", 512) for f in scoring), 1, False)
    yield "evaluate", inference_plan(a, ev["batch_size"], ev["max_length"] or a["context"], gpus(config, model, "evaluate"),
                                     ev["backend"] == "vllm")


def gpus(config: dict, model: str, kind: str) -> int:
    """The GPUs a kind of job of a model asks for: the count of a gpu entry of its gres when it sets one (the job
    then asks for no `gpus`), else its gpus; 0 when neither is set."""
    gres = config_resource(config, model, kind, "gres")
    if gres:
        return gpu_count({"gres": gres})
    return int(config_resource(config, model, kind, "gpus", 0) or 0)


def total(plan: dict) -> int:
    return plan["weights"] + plan["gradients"] + plan["optimizer"] + plan["activations"]


def memory_key(config: dict, model: str, kind: str) -> str:
    """The config key path gpu_memory_gb of a job kind comes from."""
    return resource_key(config, model, kind, "gpu_memory_gb")


def batch_problems(config: dict, model: str) -> list[str]:
    """A training batch of a model that does not divide over its job's processes, with the key that sets it."""
    from .config import model_section
    from .training import batch_layout

    spec, out = config["models"][model], []
    sections = []
    if roles(config, model)[0]:  # a teacher or scorer only is never trained
        sections.append(("train", model_section(config, model, "training"),
                         f"models.{model}.training" if "batch_size" in spec.get("training", {}) else "training"))
    if spec["base"]["kind"] == "pretrain":
        sections.append(("base", spec["base"]["training"], f"models.{model}.base.training"))
    for kind, cfg, where in sections:
        try:
            batch_layout(cfg, max(1, gpus(config, model, kind)))
        except InputError as e:
            out.append(str(e).replace("'training.", f"'{where}.", 1) + f" (resources {kind} of model {model})")
    return out


def check_batches(config: dict) -> None:
    """Refuse, naming the key, a training batch that does not divide over its job's processes."""
    problems = [p for model in sorted(config["models"]) for p in batch_problems(config, model)]
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(problems))


def check_memory(config: dict) -> None:
    """check_batches, then refuse, naming the key, a config whose plan for some model and job kind exceeds its
    gpu_memory_gb (kinds without it or without GPUs are not checked)."""
    check_batches(config)
    problems = []
    for model in sorted(config["models"]):
        for kind, plan in plans(config, model):
            capacity = config_resource(config, model, kind, "gpu_memory_gb")
            if capacity is None or gpus(config, model, kind) == 0:
                continue
            usable = capacity * GB * (VLLM_DEFAULT_UTILIZATION if plan["note"].startswith("vllm") else TORCH_USABLE)
            if total(plan) > usable:
                problems.append(
                    f"config key '{memory_key(config, model, kind)}': the {kind} job of model {model} needs "
                    f"{total(plan) / GB:.1f} GB per GPU ({describe(plan)}) but {capacity} GB cards leave "
                    f"{usable / GB:.1f} GB; {REMEDIES['train' if kind == 'base' else kind]}")
    if problems:
        raise InputError("memory plan does not fit:\n  " + "\n  ".join(problems))


def describe(plan: dict) -> str:
    return ", ".join(f"{k} {plan[k] / GB:.1f}" for k in ("weights", "gradients", "optimizer", "activations"))


def table(config: dict) -> str:
    """The plan of every model and job kind as a Markdown table, GB (1e9 bytes) per GPU."""
    lines = ["| model | job | GPUs | weights | gradients | optimizer | activations | total | GPU memory | setting |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for model in sorted(config["models"]):
        a = architecture(config, model)
        if a is None:
            lines.append(f"| {model} | (shape unknown: no config.json cached) | | | | | | | | |")
            continue
        for kind, plan in plans(config, model):
            cap = config_resource(config, model, kind, "gpu_memory_gb")
            cells = [f"{plan[k] / GB:.2f}" for k in ("weights", "gradients", "optimizer", "activations")]
            size = f"{parameters(a) / 1e9:.2f}B" if parameters(a) >= 1e8 else f"{parameters(a) / 1e6:.1f}M"
            lines.append(f"| {model} ({size}) | {kind} | {gpus(config, model, kind)} | "
                         + " | ".join(cells) + f" | {total(plan) / GB:.2f} | {cap if cap is not None else '-'} | "
                         f"{plan['note']} |")
    return "\n".join(lines)
