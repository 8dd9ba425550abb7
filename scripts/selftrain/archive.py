"""results/archive/<name>.tar.gz: code, config, environments, manifest and results of a run, packed so
that the same inputs give the same archive bytes (sorted entries, zero times and owners)."""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import yaml

from .io import dumps_json
from .provenance import REPO_ROOT, SIDECAR_SUFFIX, _git, code_version, manifest_files

# not code, where the workflow is no git checkout
UNTRACKED = {".git", ".venv", ".snakemake", "results", "__pycache__", ".pytest_cache"}
REPRODUCE = "python code/scripts/reproduce_archive.py"


def code_files() -> dict[str, Path]:
    """{archive path: file} of the workflow's code: files git tracks or would track, as in the working tree."""
    listing = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listing is not None:
        names = [n for n in listing.split("\0") if n]
    else:
        names = [str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.rglob("*")
                 if p.is_file() and not UNTRACKED & set(p.relative_to(REPO_ROOT).parts)]
    return {f"code/{n}": REPO_ROOT / n for n in sorted(names) if (REPO_ROOT / n).is_file()}


def pip_freeze() -> str:
    """`name==version` of every distribution of the running interpreter, sorted (pip freeze without pip)."""
    dists = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in importlib.metadata.distributions()
             if d.metadata["Name"]}
    return "".join(f"{n}=={v}\n" for n, v in sorted(dists.items()))


def conda_export() -> str | None:
    """`conda env export` of the active conda env, where conda exists."""
    conda = shutil.which("conda")
    if not conda or not os.environ.get("CONDA_PREFIX"):
        return None
    proc = subprocess.run([conda, "env", "export", "--no-builds"], capture_output=True, text=True, timeout=300)
    return proc.stdout if proc.returncode == 0 else None


def kind_of(path: str, manifest: dict) -> str:
    """'checkpoints' (files of directory outputs: tokenizers, checkpoints), 'corpora' (JSONL) or 'results'."""
    for record in manifest["jobs"]:
        for out, d in record["output"]["files"].items():
            if "files" in d and path.startswith(out + "/"):
                return "checkpoints"
    return "corpora" if path.endswith(".jsonl") else "results"


def archive_entries(manifest_path: str, config: dict, options: dict) -> tuple[dict, list[str]]:
    """({archive path: Path or bytes}, left-out result files) for an archive of the run."""
    manifest = json.loads(Path(manifest_path).read_text())
    entries: dict[str, Path | bytes] = dict(code_files())
    left_out = []
    for path in sorted(manifest_files(manifest)):
        kind = kind_of(path, manifest)
        if kind == "results" or options.get(kind, False):
            entries[path] = Path(path)
        else:
            left_out.append(path)
    for record in manifest["jobs"]:
        for out in record["output"]["files"]:
            entries[out + SIDECAR_SUFFIX] = Path(out + SIDECAR_SUFFIX)
    entries[manifest_path] = Path(manifest_path)
    if Path(manifest_path + SIDECAR_SUFFIX).is_file():
        entries[manifest_path + SIDECAR_SUFFIX] = Path(manifest_path + SIDECAR_SUFFIX)
    code = code_version()
    if code["dirty"]:
        entries["code.patch"] = (_git("diff", "HEAD", "--binary") or "").encode()
    entries["config.yaml"] = yaml.safe_dump(config, sort_keys=True).encode()
    entries["environment/pip-freeze.txt"] = pip_freeze().encode()
    conda = conda_export()
    if conda:
        entries["environment/conda-export.yaml"] = conda.encode()
    entries["archive.json"] = dumps_json({
        "code": code, "options": options, "left_out": left_out,
        "reproduce": REPRODUCE, "verify": "python code/scripts/verify_manifest.py --verify --archive",
    }).encode()
    return entries, left_out


def write_archive(out: str | Path, name: str, entries: dict) -> int:
    """A gzipped tar of entries under <name>/, written atomically; returns its size in bytes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname in sorted(entries):
            src = entries[arcname]
            data = src if isinstance(src, bytes) else src.read_bytes()
            info = tarfile.TarInfo(f"{name}/{arcname}")
            info.size, info.mtime, info.uid, info.gid = len(data), 0, 0, 0
            info.mode = 0o755 if not isinstance(src, bytes) and os.access(src, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return out.stat().st_size
