"""The per-rule conda envs agree with the pip pins CI tests with, and every rule names an env that exists."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)$")


def normalized(name: str) -> str:
    """PEP 503 name: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict:
    """{normalized name: (extras, version)} of `name[extras]==version` lines; others raise."""
    out = {}
    for line in lines:
        m = PIN.match(line.strip())
        assert m, f"not pinned as name==version: {line!r}"
        out[normalized(m.group(1))] = (m.group(2) or "", m.group(3))
    return out


def requirement_pins() -> dict:
    """requirements.txt (the CPU stack CI installs) plus requirements-gpu.txt (GPU-only pins), if present."""
    found = {}
    for path in sorted(ROOT.glob("requirements*.txt")):
        lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
        for name, pin in pins([line for line in lines if line]).items():
            assert name not in found, f"{name} is pinned in two requirements files"
            found[name] = pin
    return found


def env_pip_lines(env: dict) -> list:
    return [line for dep in env["dependencies"] if isinstance(dep, dict) for line in dep.get("pip", [])]


def test_every_env_pin_matches_the_requirements():
    required = requirement_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for path in envs:
        env = yaml.safe_load(path.read_text())
        for name, pin in pins(env_pip_lines(env)).items():
            assert name in required, f"{path.name}: {name} is not pinned in requirements*.txt"
            assert pin == required[name], f"{path.name}: {name} {pin} but requirements pin {required[name]}"


def test_pins_parse_names_extras_and_versions():
    assert pins(["lm-eval[hf]==0.4.13", "Safe_Tensors==0.8.0"]) == {
        "lm-eval": ("[hf]", "0.4.13"), "safe-tensors": ("", "0.8.0")}


def test_every_rule_uses_an_existing_env():
    rules = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            conda = re.search(r"^    conda:\n\s+\"([^\"]+)\"", body, re.M)
            assert conda, f"rule {name} ({smk.name}) has no conda: env"
            rules[name] = (smk.parent / conda.group(1)).resolve()
    assert len(rules) >= 10
    for name, env in rules.items():
        assert env.parent == ROOT / "envs" and env.is_file(), f"rule {name}: {env} does not exist"
        assert yaml.safe_load(env.read_text())["dependencies"], env
