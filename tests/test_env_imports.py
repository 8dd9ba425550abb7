"""Every rule's conda env holds what its script imports, following the `selftrain` modules it imports.

Under `--use-conda` a rule's script runs in its env's Python. Snakemake appends its own interpreter's sys.path to the
script's (snakemake/script/__init__.py, `get_snakemake_searchpaths`, "as a fallback"), so where the env's Python
version matches the main venv's, a package the env lacks is silently taken from the main venv, and no run shows the
gap. This test reads it off the code instead: the imports of each rule's script, and of the `selftrain` functions
it reaches (a lazy import inside a function counts where the script can reach that function), mapped to
distributions and checked against the closure of the env's pins (their requirements, read from the installed
distributions' metadata).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from selftrain.provenance import pins

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
PACKAGE = "selftrain"
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}
METADATA_VERSION = ("importlib.metadata.version", "metadata.version")  # a distribution's version read by name


def _local_module(module: str | None, level: int, here: str) -> str | None:
    """The selftrain module an import names ('selftrain.io'), or None where it names another package."""
    if level:  # selftrain is one flat package: `from .io import x` names selftrain.io
        assert level == 1 and here.startswith(PACKAGE), f"{here}: relative import of level {level}"
        return f"{PACKAGE}.{module}" if module else PACKAGE
    if module and (module == PACKAGE or module.startswith(PACKAGE + ".")):
        return module
    return None


def _module_file(name: str) -> Path:
    return SCRIPTS / PACKAGE / "__init__.py" if name == PACKAGE else SCRIPTS / (name.replace(".", "/") + ".py")


def _is_module(name: str) -> bool:
    return _module_file(name).is_file()


class Scan:
    """One Python file's needs: imports at module level and the functions and classes module-level code uses, and per
    top-level function or class its own imports and the names of the file's other functions it refers to. An import
    under `try: ... except ImportError`, or under `if "x" in sys.modules`, is optional and left out; one under
    `if <parameter>:` is kept with that condition."""

    def __init__(self, path: Path, name: str):
        self.name = name
        self.top: list = []
        self.top_refs: set[str] = set()  # functions and classes that module-level code uses (a registry dict)
        self.defs: dict[str, tuple[list, set]] = {}
        tree = ast.parse(path.read_text(), str(path))
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                needs: list = []
                params = {a.arg for a in ast.walk(node) if isinstance(a, ast.arg)}
                self._collect(node, needs, None, params)
                refs = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in defined} - {node.name}
                self.defs[node.name] = (needs, refs)
                if node.decorator_list:  # a decorator runs at import, and may register what it decorates
                    self.top_refs.add(node.name)
            else:
                self._collect(node, self.top, None, set())
                self.top_refs |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in defined}
        # a literal keyword argument of each call by name, e.g. step(snakemake, uses_torch=False)
        self.literal_kwargs = [
            (n.func.id, {k.arg: k.value.value for k in n.keywords if k.arg and isinstance(k.value, ast.Constant)})
            for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]

    def _collect(self, node, needs: list, condition, params: set):
        if isinstance(node, ast.Import):
            for alias in node.names:
                needs.append((alias.name, None, condition))
        elif isinstance(node, ast.ImportFrom):
            local = _local_module(node.module, node.level, self.name)
            if local and local == PACKAGE or local and not _is_module(local):
                for alias in node.names:  # from selftrain import io: a module, else a name of __init__
                    sub = f"{local}.{alias.name}"
                    needs.append((sub, None, condition) if _is_module(sub) else (local, {alias.name}, condition))
            else:
                needs.append((local or node.module, {a.name for a in node.names}, condition))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in METADATA_VERSION:
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                needs.append(("dist:" + node.args[0].value, None, condition))
        for child in ast.iter_child_nodes(node):
            if isinstance(node, ast.Try) and child in node.body and any(
                    h.type is not None and set(re.findall(r"\w+", ast.unparse(h.type))) & IMPORT_ERRORS
                    for h in node.handlers):
                continue
            cond = condition
            if isinstance(node, ast.If) and child in node.body:
                test = ast.unparse(node.test)
                if "sys.modules" in test:
                    continue
                if isinstance(node.test, ast.Name) and node.test.id in params:
                    cond = node.test.id
            self._collect(child, needs, cond, params)


@cache
def scan(module: str) -> Scan:
    return Scan(_module_file(module), module)


def script_needs(script: Path) -> set[str]:
    """Top-level import names (and 'dist:<name>' for a distribution whose version is read) a script can reach."""
    seen: set = set()
    found: set[str] = set()
    calls = Scan(script, "__main__").literal_kwargs

    def skipped(condition, owner: str) -> bool:
        """An import under `if <parameter>:` of function `owner`, which every call of the script passes as False."""
        args = [kw for name, kw in calls if name == owner]
        return condition is not None and bool(args) and all(kw.get(condition) is False for kw in args)

    def take(needs: list, owner: str | None = None):
        for target, names, condition in needs:
            if skipped(condition, owner):
                continue
            if target.startswith("dist:"):
                found.add(target)
            elif target == PACKAGE or target.startswith(PACKAGE + "."):
                reach(target, names)
            else:
                found.add(target.split(".")[0])

    def reach(module: str, names):
        parent = module.rsplit(".", 1)[0]
        if parent != module and module != PACKAGE:
            reach(parent, set())  # importing selftrain.x runs selftrain/__init__.py first
        s = scan(module)
        todo = list(s.defs) if names is None else [n for n in names if n in s.defs]
        if (module, None) not in seen:
            seen.add((module, None))
            take(s.top)
            todo.extend(s.top_refs)
        while todo:
            name = todo.pop()
            if (module, name) in seen:
                continue
            seen.add((module, name))
            needs, refs = s.defs[name]
            take(needs, name)
            todo.extend(refs)

    whole = Scan(script, "__main__")  # a script is run whole
    take(whole.top)
    for name, (needs, _) in whole.defs.items():
        take(needs, name)
    return {n for n in found if n.startswith("dist:") or n not in sys.stdlib_module_names}


@cache
def installed_modules() -> dict:
    return importlib.metadata.packages_distributions()


def distributions_of(import_name: str) -> set[str]:
    """The distributions that install a top-level import name (sklearn: scikit-learn), read from the installed
    packages' metadata; a name no installed distribution provides (vllm, outside .venv-vllm) is taken as its own."""
    found = installed_modules().get(import_name) or [import_name]
    return {canonicalize_name(d) for d in found}


@cache
def closure(pinned: frozenset) -> frozenset:
    """The pinned distributions and, recursively, what their installed metadata requires (extras included where
    pinned, e.g. lm-eval[hf]); a pin that is not installed here counts as itself."""
    todo = [(name, frozenset(re.findall(r"[\w-]+", extras))) for name, extras in pinned]
    out: set = set()
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in out:
            continue
        out.add(key)
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
                todo.append((req.name, frozenset(req.extras)))
    return frozenset(name for name, _ in out)


def env_distributions(env_path: Path) -> frozenset:
    env = yaml.safe_load(env_path.read_text())
    lines = [line for dep in env["dependencies"] if isinstance(dep, dict) for line in dep.get("pip", [])]
    return closure(frozenset((name, extras) for name, (extras, _) in pins(lines).items()))


def rule_envs_and_scripts() -> dict[str, tuple[Path, Path]]:
    """rule name -> (conda env, script) for every rule of rules/*.smk; a `use rule A as B with:` inherits A's."""
    rules: dict[str, tuple[Path, Path]] = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            conda = re.search(r"^    conda:\n\s+\"([^\"]+)\"", body, re.M)
            script = re.search(r"^    script:\n\s+\"([^\"]+)\"", body, re.M)
            assert conda and script, f"rule {name} ({smk.name}) has no conda: env or no script:"
            rules[name] = ((smk.parent / conda.group(1)).resolve(), (smk.parent / script.group(1)).resolve())
        for base, new, body in re.findall(r"^use rule (\w+) as (\w+) with:\n((?:[ \t]+.*\n|\n)*)", text, re.M):
            assert "conda:" not in body and "script:" not in body, f"rule {new} ({smk.name}): update this test"
            rules[new] = rules[base]
    return rules


def missing(env: Path, script: Path) -> list[str]:
    have = env_distributions(env)
    out = []
    for need in sorted(script_needs(script)):
        dists = {canonicalize_name(need[5:])} if need.startswith("dist:") else distributions_of(need)
        if not dists & have:
            out.append(f"{need} ({' or '.join(sorted(dists))})")
    return out


RULES = rule_envs_and_scripts()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_rule_env_holds_what_its_script_imports(rule):
    env, script = RULES[rule]
    lacks = missing(env, script)
    assert not lacks, (f"rule {rule}: {env.relative_to(ROOT)} lacks what {script.relative_to(ROOT)} imports or "
                       f"reads the version of: {', '.join(lacks)}")


def test_the_scan_follows_selftrain_into_the_functions_a_script_reaches(tmp_path):
    """Lazy imports count where reachable, the parameter guard of step(uses_torch=False) holds, and an optional
    import (except ImportError) does not count."""
    script = tmp_path / "step_script.py"
    script.write_text("from selftrain.step import step\nfrom selftrain.archive import archive_entries\n"
                      "with step(snakemake, uses_torch=False):\n    pass\n")
    needs = script_needs(script)
    assert {"rocrate", "yaml", "dist:snakemake"} <= needs and "torch" not in needs
    script.write_text("from selftrain.step import step\nwith step(snakemake):\n    pass\n")
    assert "torch" in script_needs(script)
    script.write_text("try:\n    import vllm\nexcept ImportError:\n    vllm = None\n"
                      "from selftrain.io import dumps_json\n")
    assert script_needs(script) == set()
    assert distributions_of("sklearn") == {"scikit-learn"} and distributions_of("yaml") == {"pyyaml"}
