"""Config loading: JSON-schema validation with clear key paths, defaults, and per-job slices."""

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

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
# sections whose defaults are filled only after merging (a default must not shadow the base section)
_MERGED_LATER = ("conditions", "condition_defaults", "grid")
# grid axes in name order, each with the condition key it sets
GRID_AXES = (("prompt", "prompt"), ("sampling", "sampling"), ("filter", "filters"), ("data", "data"), ("init", "init"))


@functools.lru_cache(maxsize=None)
def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """The config schema, parsed once per process (resolve_condition asks for it per condition); callers
    must not modify it."""
    return yaml.safe_load(path.read_text())


def _validator(schema: dict, fill_defaults: bool):
    import jsonschema

    cls = jsonschema.Draft202012Validator
    if fill_defaults:
        def set_defaults(validator, properties, instance, schema):
            if isinstance(instance, dict):
                for key, sub in properties.items():
                    if "default" in sub and key not in instance:
                        instance[key] = copy.deepcopy(sub["default"])
            yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)

        cls = jsonschema.validators.extend(cls, {"properties": set_defaults})
    return cls(schema)


def _check(schema: dict, instance, where: str = "", fill_defaults: bool = False) -> None:
    errors = sorted(_validator(schema, fill_defaults).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors[:10]:
            parts = [where, ".".join(str(p) for p in e.absolute_path)]
            if e.validator == "additionalProperties" and isinstance(e.instance, dict):
                allowed = set(e.schema.get("properties", {}))
                for extra in sorted(k for k in e.instance if k not in allowed):
                    key = ".".join(filter(None, parts + [str(extra)]))
                    lines.append(f"config key '{key}': unknown key (allowed: {', '.join(sorted(allowed))})")
                continue
            key = ".".join(filter(None, parts)) or "<top level>"
            lines.append(f"config key '{key}': {e.message}")
        raise InputError("invalid config:\n  " + "\n  ".join(lines))


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate config in place (unknown keys, types, ranges), fill defaults, check cross-key rules."""
    schema = schema or load_schema()
    _check(schema, config)
    later = {k: config.pop(k) for k in _MERGED_LATER if k in config}
    _check(dict(schema, required=[]), config, fill_defaults=True)
    config.update(later)
    config.setdefault("condition_defaults", {})
    config.setdefault("conditions", {})
    # expanded once: the grid key is consumed so that rules (and a second validation) see plain conditions
    for name, cond in expand_grid(config.pop("grid", None) or {}).items():
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
    check_budgets(config)
    return config


def _where(config: dict, model: str, section: str, key: str) -> str:
    """The config key a model's value of section.key comes from (its override or the top level)."""
    return f"models.{model}.{section}.{key}" if key in config["models"][model].get(section, {}) else f"{section}.{key}"


def check_budgets(config: dict) -> None:
    """Cross-key rules a schema cannot state: budgets that no run could meet fail before any job."""
    problems = []
    for name in config["conditions"]:
        s = resolve_condition(config, name)["sampling"]
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
    if problems:
        raise InputError("invalid config:\n  " + "\n  ".join(dict.fromkeys(problems)))


def check_paths(config: dict, root: str | Path = ".") -> None:
    """Paths the config names exist (relative to the working directory root), before any job starts."""
    root = Path(root)
    problems = []
    corpus = config["corpus"]
    if corpus["source"] in ("jsonl", "text_files") and not corpus.get("path"):
        problems.append(f"config key 'corpus.path': required for corpus.source {corpus['source']!r}")
    elif corpus["source"] == "jsonl" and not (root / corpus["path"]).is_file():
        problems.append(f"config key 'corpus.path': no file {corpus['path']!r}")
    elif corpus["source"] == "text_files" and not glob.glob(os.path.join(root, corpus["path"]), recursive=True):
        problems.append(f"config key 'corpus.path': no file matches {corpus['path']!r}")
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
    _check(sub, merged, where=f"conditions.{name}", fill_defaults=True)
    return merged


def model_section(config: dict, model: str, section: str) -> dict:
    """A top-level section (generation, training, evaluation) with the model's overrides applied."""
    return deep_merge(config.get(section, {}), config["models"][model].get(section, {}))


def slice_hash(obj) -> str:
    """Short SHA-256 of a config slice's canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
