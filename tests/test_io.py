import json
import os
import stat

import pytest

from selftrain.io import InputError, atomic_directory, atomic_write_json, atomic_write_text, read_jsonl, write_jsonl


def test_write_and_read_jsonl_roundtrip(tmp_path):
    path = tmp_path / "a.jsonl"
    n = write_jsonl(path, [{"id": "x", "text": "é\n"}, {"id": "y", "text": "b", "meta": {"k": 1}}])
    assert n == 2
    assert path.read_text(encoding="utf-8") == '{"id": "x", "text": "é\\n"}\n{"id": "y", "meta": {"k": 1}, "text": "b"}\n'
    assert read_jsonl(path) == [{"id": "x", "text": "é\n"}, {"id": "y", "text": "b", "meta": {"k": 1}}]
    assert os.listdir(tmp_path) == ["a.jsonl"]  # no temp file left behind


@pytest.mark.parametrize("line,message", [
    ("{not json", "a.jsonl:2: invalid JSON"),
    ('["a"]', "a.jsonl:2: expected a JSON object"),
    ('{"id": "b"}', "a.jsonl:2: missing key 'text'"),
    ('{"id": "b", "text": 3}', "a.jsonl:2: 'text' must be a string"),
])
def test_bad_jsonl_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\n' + line + "\n")
    with pytest.raises(InputError, match=message):
        read_jsonl(path)


def test_atomic_json_is_canonical(tmp_path):
    atomic_write_json(tmp_path / "e.json", {"b": 1, "a": [1.5]})
    assert (tmp_path / "e.json").read_text() == '{\n  "a": [\n    1.5\n  ],\n  "b": 1\n}\n'


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "checkpoint"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("killed")
    assert os.listdir(tmp_path) == []
    with atomic_directory(target) as tmp:
        (tmp / "weights").write_text("full")
    assert (target / "weights").read_text() == "full"
    assert json.dumps(sorted(os.listdir(tmp_path))) == '["checkpoint"]'


def test_temp_siblings_left_by_a_killed_writer_are_removed(tmp_path):
    (tmp_path / ".a.json.k1l2e3d4.tmp").write_text("half")
    (tmp_path / ".ckpt.z9y8x7w6.tmp").mkdir()
    (tmp_path / ".other.json.k1l2e3d4.tmp").write_text("not ours")
    atomic_write_json(tmp_path / "a.json", {"x": 1})
    with atomic_directory(tmp_path / "ckpt") as d:
        (d / "w").write_text("w")
    assert sorted(os.listdir(tmp_path)) == [".other.json.k1l2e3d4.tmp", "a.json", "ckpt"]


def test_atomic_outputs_get_the_mode_plain_writes_would(tmp_path):
    """mkstemp/mkdtemp create 0600/0700; targets must be group-readable like open()/mkdir() make them."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        with atomic_directory(tmp_path / "ckpt") as d:
            (d / "w").write_text("y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "ckpt").stat().st_mode) == 0o755
