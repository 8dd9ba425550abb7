"""Atomic file writes and strict JSONL reading shared by every step."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator


class InputError(ValueError):
    """Bad input (config, corpus, JSONL line): the message names the file, key or line."""


def _remove_stale_temps(path: Path) -> None:
    """Delete temp siblings of path left by a killed writer (one job writes a target at a time)."""
    stale = re.compile(rf"^\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp$")
    for p in path.parent.iterdir():
        if stale.match(p.name):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)


def default_permissions(path: str | os.PathLike) -> None:
    """Give a mkstemp/mkdtemp result (0600/0700) the mode open()/mkdir() would: 0666/0777 less the umask,
    so targets stay readable by the group on a shared cluster file system."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    _remove_stale_temps(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    default_permissions(name)
    return Path(name)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp file next to path; on success it is renamed to path, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write text to path via a temp file in the same directory and a rename."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def dumps_json(obj) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, trailing newline (stable bytes)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, dumps_json(obj))


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Atomically write one JSON object per line; returns the number of lines."""
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def iter_jsonl(path: str | os.PathLike, required: tuple[str, ...] = ("id", "text")) -> Iterator[dict]:
    """Yield the objects of a JSONL file; a bad line raises InputError naming file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{lineno}: invalid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            for key in required:
                if key not in obj:
                    raise InputError(f"{path}:{lineno}: missing key {key!r}")
            if "text" in required and not isinstance(obj["text"], str):
                raise InputError(f"{path}:{lineno}: 'text' must be a string")
            yield obj


def read_jsonl(path: str | os.PathLike, required: tuple[str, ...] = ("id", "text")) -> list[dict]:
    return list(iter_jsonl(path, required))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp directory next to path; on success it is renamed to path, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    default_permissions(tmp)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
