"""The config schema: read once, instances checked against it with clear key paths and defaults filled, and
the spec of a plugin (prompting strategy, filter, data regime) checked against its own keys there."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import yaml

from .io import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


@functools.lru_cache(maxsize=None)
def load_schema(path: Path = SCHEMA_PATH) -> dict:
    """The config schema, parsed once per process (resolve_condition asks for it per condition); callers
    must not modify it."""
    return yaml.safe_load(path.read_text())


def _is_integer(checker, instance) -> bool:
    # JSON Schema counts 3.0 as an integer; here a float is refused where an integer is meant: `seed: 1234.0`
    # would change every derived seed (derive_seed hashes the text "1234.0") and `rounds: 3.0` breaks range()
    return isinstance(instance, int) and not isinstance(instance, bool)


def _validator(schema: dict, fill_defaults: bool):
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", _is_integer)
    validators = {}
    if fill_defaults:
        def set_defaults(validator, properties, instance, schema):
            if isinstance(instance, dict):
                for key, sub in properties.items():
                    if "default" in sub and key not in instance:
                        instance[key] = copy.deepcopy(sub["default"])
            yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

        validators["properties"] = set_defaults
    return jsonschema.validators.extend(base, validators, type_checker=checker)(schema)


def _explain(e) -> str:
    """What a schema error allows, in words (jsonschema's own message where it already says so)."""
    if "propertyNames" in e.absolute_schema_path:
        if e.validator == "pattern":
            return f"name {e.instance!r} must match {e.validator_value}"
        if e.validator == "maxLength":
            return f"name {e.instance[:40]!r}... is {len(e.instance)} characters (at most {e.validator_value}: it is a path component)"
        if e.validator == "not":
            return f"name {e.instance!r} is reserved (the pipeline's own entries: {', '.join(e.validator_value['enum'])})"
    if e.validator == "oneOf" and "one_of_means" in e.schema:  # the schema says what its alternatives mean
        return f"needs {e.schema['one_of_means']}"
    if e.validator == "type" and e.validator_value == "integer" and isinstance(e.instance, float):
        return f"{e.instance!r} is not an integer (write {int(e.instance)} if that is meant)" if e.instance.is_integer() \
            else f"{e.instance!r} is not an integer"
    return e.message


def check_against(schema: dict, instance, where: str = "", fill_defaults: bool = False) -> None:
    """Check instance against schema (filling defaults in place if asked): one InputError naming each bad
    key's path under where and what it allows."""
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
            lines.append(f"config key '{key}': {_explain(e)}")
        raise InputError("invalid config:\n  " + "\n  ".join(dict.fromkeys(lines)))


# plugin families: the schema definition of the family, where each plugin's own definition lives, and the key
# that names the plugin
PLUGIN_FAMILIES = {"prompt": ("prompts", "strategy"), "filter": ("filters", "name"), "data": ("regimes", "regime")}


def plugin_spec(family: str, spec: dict) -> dict:
    """A prompt, filter or data-regime spec checked against its own plugin's keys in the schema, with that
    plugin's defaults filled (a copy): what the plugin's constructor receives. Bad keys raise InputError."""
    return copy.deepcopy(_checked_spec(family, json.dumps(spec, sort_keys=True)))


@functools.lru_cache(maxsize=None)
def _checked_spec(family: str, spec_json: str) -> dict:
    """plugin_spec of one spec, checked once per process: the DAG asks for the same few specs once per job (a
    dry run of the paper preset spent 10 s checking them again before this cache)."""
    schema = load_schema()
    spec = json.loads(spec_json)
    check_against({"$defs": schema["$defs"], **schema["$defs"][family]}, spec, where=family, fill_defaults=True)
    return spec


def check_definition(definition: str, instance, where: str) -> None:
    """instance checked against the schema's $defs.<definition>, its defaults filled; errors name the key path
    from `where` (e.g. a file's figures read beside the config)."""
    schema = load_schema()
    check_against({"$defs": schema["$defs"], **schema["$defs"][definition]}, instance, where=where, fill_defaults=True)


def plugin_keys(family: str, name: str) -> set[str]:
    """The keys one plugin (e.g. prompt strategy real_prefix) declares in the schema."""
    defs, _ = PLUGIN_FAMILIES[family]
    return set(load_schema()["$defs"][defs][name]["properties"])


def plugin_class(family: str, registry: dict, spec: dict):
    """(the registered class a spec names, the spec checked and filled by plugin_spec)."""
    spec = plugin_spec(family, spec)
    return registry[spec[PLUGIN_FAMILIES[family][1]]], spec
