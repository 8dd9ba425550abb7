"""Evaluation of a checkpoint through lm-eval's Python API into one fixed-schema eval.json."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
EVAL_SCHEMA_VERSION = 1
PERPLEXITY_METRICS = ("word_perplexity", "byte_perplexity", "bits_per_byte")


def perplexity_task(data_file: str | Path, name: str = "heldout_perplexity") -> dict:
    """The repo's rolling-loglikelihood task YAML, pointed at a JSONL file of whole documents."""
    cfg = yaml.safe_load((TASKS_DIR / "heldout_perplexity.yaml").read_text())
    cfg = copy.deepcopy(cfg)
    cfg["task"] = name
    cfg["dataset_kwargs"]["data_files"]["test"] = str(Path(data_file).resolve())
    return cfg


def run_lm_eval(model, tokenizer, tasks: list, batch_size: int, max_length: int | None, seed: int) -> dict:
    """lm-eval simple_evaluate on an in-memory HF model; returns lm-eval's `results` dict.

    Tasks given as dicts (our YAMLs) need no index of lm-eval's ~14k built-in task files, which costs
    seconds per job; built-in tasks are named by string and switch the index on."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    kwargs = {"max_length": max_length} if max_length else {}
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, **kwargs)
    manager = TaskManager(include_defaults=any(isinstance(t, str) for t in tasks))
    out = lm_eval.simple_evaluate(
        model=lm, tasks=tasks, task_manager=manager, log_samples=False, bootstrap_iters=0,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
    )
    return out["results"]


def perplexity_block(results: dict, task: str) -> dict:
    """{metric: value} for one rolling-loglikelihood task, lm-eval's ',none' filter suffix removed."""
    r = results[task]
    block = {m: float(r[f"{m},none"]) for m in PERPLEXITY_METRICS}
    block["documents"] = int(r.get("sample_len", 0)) if "sample_len" in r else None
    return block


def eval_record(identity: dict, perplexity: dict, extra: dict | None = None) -> dict:
    """The eval.json document (schema v1): identity keys, perplexity per real set, versions."""
    import lm_eval

    return {
        "schema_version": EVAL_SCHEMA_VERSION,
        **identity,
        "perplexity": perplexity,
        "downstream": {},
        "lm_eval_version": getattr(lm_eval, "__version__", "unknown"),
        **(extra or {}),
    }
