import hashlib
import json

import pytest

from selftrain import provenance
from selftrain.io import InputError, atomic_write_json
from selftrain.provenance import (build_manifest, code_version, digest, manifest_files, sidecar_path,
                                  verify_manifest)


def test_digest_of_a_file_and_of_a_directory(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc")
    sha_abc = hashlib.sha256(b"abc").hexdigest()
    assert digest(tmp_path / "a.txt") == {"sha256": sha_abc, "bytes": 3}
    ckpt = tmp_path / "checkpoint"
    (ckpt / "sub").mkdir(parents=True)
    (ckpt / "w.bin").write_bytes(b"abc")
    (ckpt / "sub" / "x").write_bytes(b"")
    (ckpt / ".snakemake_timestamp").write_bytes(b"")  # Snakemake's, written after the job: not recorded
    sha_empty = hashlib.sha256(b"").hexdigest()
    listing = f"{sha_empty}  sub/x\n{sha_abc}  w.bin\n"
    assert digest(ckpt) == {"sha256": hashlib.sha256(listing.encode()).hexdigest(),
                            "files": {"sub/x": {"sha256": sha_empty, "bytes": 0}, "w.bin": {"sha256": sha_abc, "bytes": 3}}}


def test_sidecar_sits_beside_files_and_directories():
    assert str(sidecar_path("results/m/round0/checkpoint/")) == "results/m/round0/checkpoint.prov.json"
    assert str(sidecar_path("results/x/eval.json")) == "results/x/eval.json.prov.json"


def test_code_version_outside_a_git_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "REPO_ROOT", tmp_path)
    assert code_version() == {"commit": None, "dirty": None, "diff_sha256": None}


def test_code_version_of_this_checkout():
    v = code_version()
    assert len(v["commit"]) == 40 and isinstance(v["dirty"], bool)


def _job(tmp_path, rule, inputs, outputs):
    """Write outputs (name -> bytes) and their records the way the step harness does."""
    for name, data in outputs.items():
        (tmp_path / name).write_bytes(data)
    record = {"rule": rule, "input": {"named": {}, "files": {n: digest(tmp_path / n) for n in inputs}},
              "output": {"named": {}, "files": {n: digest(tmp_path / n) for n in outputs}}}
    for name in outputs:
        atomic_write_json(sidecar_path(tmp_path / name), record)
    return record


def test_manifest_follows_records_upstream_and_verify_names_the_changed_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _job(tmp_path, "make_a", [], {"a": b"1", "a2": b"2"})
    _job(tmp_path, "make_b", ["a"], {"b": b"3"})
    m = build_manifest(["b"])
    assert [j["rule"] for j in m["jobs"]] == ["make_a", "make_b"]
    assert sorted(manifest_files(m)) == ["a", "a2", "b"]
    assert verify_manifest(m) == []
    (tmp_path / "a2").write_bytes(b"X")
    (tmp_path / "b").unlink()
    problems = verify_manifest(m)
    assert problems == [f"a2: sha256 {hashlib.sha256(b'X').hexdigest()} differs from the manifest's "
                        f"{hashlib.sha256(b'2').hexdigest()}", "b: missing"]
    assert verify_manifest(m, allow_missing=("b",)) == problems[:1]


def test_manifest_refuses_a_stale_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _job(tmp_path, "make_a", [], {"a": b"1"})
    _job(tmp_path, "make_b", ["a"], {"b": b"3"})
    _job(tmp_path, "make_a", [], {"a": b"changed"})  # a rebuilt, b not
    with pytest.raises(InputError, match="a: rule make_b read other bytes than rule make_a recorded writing"):
        build_manifest(["b"])


def test_manifest_needs_a_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c").write_text("x")
    with pytest.raises(InputError, match="c: no provenance record"):
        build_manifest(["c"])


def test_verify_cli_exits_1_naming_the_file(tmp_path, monkeypatch, capsys):
    import verify_manifest as cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    _job(tmp_path, "make_a", [], {"results/a": b"1"})
    (tmp_path / "results/manifest.json").write_text(json.dumps(build_manifest(["results/a"])))
    assert cli.main(["--verify"]) == 0
    (tmp_path / "results/a").write_bytes(b"2")
    assert cli.main(["--verify"]) == 1
    assert "MISMATCH results/a: sha256" in capsys.readouterr().out
