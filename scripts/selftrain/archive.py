"""results/archive/<name>.tar.gz: code, config, environments, manifest and results of a run, packed so
that the same inputs give the same archive bytes (sorted entries, zero times and owners), and described by
its ro-crate-metadata.json: a Workflow Run RO-Crate (https://w3id.org/ro/wfrun/workflow/0.5)."""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from base64 import urlsafe_b64encode
from datetime import datetime, timezone
from pathlib import Path

import yaml
from rocrate.model import ContextEntity, SoftwareApplication
from rocrate.rocrate import ROCrate

from .io import dumps_json
from .provenance import REPO_ROOT, SIDECAR_SUFFIX, _git, code_version, manifest_files, pins, sha256_file

# not code, where the workflow is no git checkout
UNTRACKED = {".git", ".venv", ".snakemake", "results", "__pycache__", ".pytest_cache"}
REPRODUCE = "python code/scripts/reproduce_archive.py"
CRATE = "ro-crate-metadata.json"
# the profiles the crate conforms to, each declared as a CreativeWork with name and version, as the example of
# https://www.researchobject.org/workflow-run-crate/profiles/0.5/workflow_run_crate/ does
PROFILES = {"https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
            "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
            "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0")}
LICENSE = ("https://spdx.org/licenses/Apache-2.0", "Apache-2.0", "Apache License 2.0")
# the rules whose outputs are the run's result: every eval.json, summary.csv, summary_ci.csv, verdict.csv, figures,
# the reading
RESULT_RULES = ("evaluate_base", "evaluate_round", "aggregate", "plot", "reading")
FORMATS = {".json": "application/json", ".csv": "text/csv", ".pdf": "application/pdf", ".png": "image/png",
           ".yaml": "application/yaml", ".txt": "text/plain", ".md": "text/markdown"}
SNAKEMAKE_RECORDS = Path(".snakemake/metadata")


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
    outputs = [out for record in manifest["jobs"] for out in record["output"]["files"]]
    results = sorted(out for record in manifest["jobs"] if record["rule"] in RESULT_RULES
                     for out in record["output"]["files"])
    entries[CRATE] = run_crate(entries, results, run_times(outputs + [manifest_path]), manifest_path,
                               code["commit"])
    return entries, left_out


def snakemake_starttime(path: str) -> float | None:
    """When Snakemake started the job that wrote path, from its own job record: .snakemake/metadata/<urlsafe
    base64 of the path>, cut into parts of the file system's name length (snakemake/persistence/file.py,
    _record_path). None where there is none: results copied without .snakemake/, --drop-metadata, or
    Snakemake's database backend."""
    if not SNAKEMAKE_RECORDS.is_dir():
        return None
    name = urlsafe_b64encode(path.encode()).decode()
    size = (os.pathconf(SNAKEMAKE_RECORDS, "PC_NAME_MAX") or 255) - 1
    parts = [name[i:i + size] for i in range(0, len(name), size)]
    try:
        record = json.loads(SNAKEMAKE_RECORDS.joinpath(*["@" + p for p in parts[:-1]], parts[-1]).read_text())
    except (OSError, ValueError):
        return None
    return record.get("starttime")


def run_times(paths: list[str]) -> tuple[str, str]:
    """(start, end) of the run that wrote paths, ISO 8601 in UTC to the second: the earliest start of a job
    that wrote one and the latest time one was written.

    The provenance records and the manifest hold no time stamps by design, and "now" would make two archives of
    one run differ, so the times come from the run's own files: a job ended when its output was last written
    (Snakemake records a job's endtime as its output's mtime too, snakemake/persistence/__init__.py, finished)
    and started when Snakemake's job record says; where there is none, at its output's mtime."""
    starts, ends = [], []
    for path in paths:
        mtime = os.stat(path).st_mtime
        starts.append(min(snakemake_starttime(path) or mtime, mtime))
        ends.append(mtime)

    def iso(t: float) -> str:
        return datetime.fromtimestamp(int(t), timezone.utc).isoformat()

    return iso(min(starts)), iso(max(ends))


def _text(src: Path | bytes) -> str:
    return (src if isinstance(src, bytes) else src.read_bytes()).decode()


def run_crate(entries: dict, results: list[str], times: tuple[str, str], manifest_path: str,
              commit: str | None) -> bytes:
    """ro-crate-metadata.json of an archive of entries: a Workflow Run RO-Crate whose ids are archive paths.

    code/Snakefile is the main workflow (Snakemake, at the version of the engine that runs this job), one
    CreateAction is the run (from times[0] to times[1], object config.yaml, result the given archive paths),
    the pins of code/requirements.txt and the engine are SoftwareApplications, and the license is Apache-2.0."""
    start, end = times
    # RO-Crate 1.1: roc-validator's workflow-run-crate-0.5 checks extend ro-crate-1.1 (a crate written as 1.3,
    # ro-crate-py's default, fails them), and with 1.1 ro-crate-py declares Workflow RO-Crate 1.0 on the descriptor
    crate = ROCrate(version="1.1")
    crate.name = "selftrain-collapse run"
    crate.description = ("One run of the selftrain-collapse workflow (recursive self-training of language models): "
                         "its code, configuration, environment, provenance records and results.")
    crate.datePublished = end  # not published yet: the time the run's results were complete
    license_id, spdx, license_name = LICENSE
    crate.license = crate.add(ContextEntity(crate, license_id, properties={
        "@type": "CreativeWork", "identifier": spdx, "name": license_name,
        "description": "The license of the workflow's code (code/LICENSE) and of this crate."}))
    engine_version = importlib.metadata.version("snakemake")

    def app(name: str, version: str) -> SoftwareApplication:
        url = f"https://pypi.org/project/{name}/{version}/"
        return crate.get(url) or crate.add(SoftwareApplication(crate, url, properties={
            "name": name, "version": version, "url": url}))

    software = [app("snakemake", engine_version)]
    for name, (_, version) in sorted(pins(_text(entries["code/requirements.txt"]).splitlines()).items()):
        pinned = app(name, version)
        if pinned not in software:
            software.append(pinned)
    workflow = crate.add_workflow(dest_path="code/Snakefile", main=True, lang="snakemake",
                                  lang_version=engine_version, properties={
                                      "name": "selftrain-collapse", "encodingFormat": "text/plain",
                                      "description": "Snakemake workflow of recursive self-training of language "
                                                     "models (code/README.md).",
                                      "softwareRequirements": software,
                                      **({"version": commit} if commit else {})})
    crate.root_dataset["conformsTo"] = [crate.add(ContextEntity(crate, pid, properties={
        "@type": "CreativeWork", "name": name, "version": version})) for pid, (name, version) in PROFILES.items()]

    def file(path: str, **properties) -> ContextEntity:
        fmt = FORMATS.get(Path(path).suffix)
        return crate.add_file(dest_path=path, properties={**({"encodingFormat": fmt} if fmt else {}), **properties})

    file("code/README.md", name="README of the workflow", about=workflow)
    file("code/requirements.txt", name="The pip pins of the workflow's CPU stack and its tests", about=workflow)
    file("environment/pip-freeze.txt", name="Every Python distribution installed where the archive was made")
    config = file("config.yaml", name="The run's configuration, defaults filled in")
    # the profile wants a unique id (a UUID): one derived from the manifest's bytes is the run's own, and the same
    # in every archive of it
    run_id = f"#{uuid.uuid5(uuid.NAMESPACE_URL, sha256_file(manifest_path))}"
    action = crate.add_action(workflow, identifier=run_id, object=config, result=[file(path) for path in results],
                              properties={
                                  "name": "Snakemake run of selftrain-collapse",
                                  "description": f"The jobs {manifest_path} records, from the first one's start "
                                                 "to the last one's end.",
                                  "startTime": start, "endTime": end,
                                  # a plain string: roc-validator's shape lists the allowed values as literals
                                  "actionStatus": "http://schema.org/CompletedActionStatus"})
    file(manifest_path, name="Manifest: the provenance record of every job of the run", about=action)
    file("archive.json", name="What the archive holds and leaves out, and how to re-check it")
    crate.root_dataset["mentions"] = action
    return dumps_json(crate.metadata.generate()).encode()


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
