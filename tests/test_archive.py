import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from selftrain.archive import CRATE, code_files, pip_freeze, run_crate, run_times, write_archive

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def test_archive_bytes_depend_only_on_contents(tmp_path):
    (tmp_path / "f.txt").write_text("hello")
    entries = {"results/f.txt": tmp_path / "f.txt", "config.yaml": b"seed: 1\n"}
    write_archive(tmp_path / "a.tar.gz", "run", entries)
    (tmp_path / "f.txt").touch()  # a new mtime changes nothing
    write_archive(tmp_path / "b.tar.gz", "run", dict(reversed(entries.items())))
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        assert tar.getnames() == ["run/config.yaml", "run/results/f.txt"]
        assert tar.extractfile("run/results/f.txt").read() == b"hello"


def test_environment_and_code_lists():
    freeze = pip_freeze().splitlines()
    names = [line.split("==")[0] for line in freeze]
    assert "torch" in names and "snakemake" in names and names == sorted(names)
    code = code_files()
    assert {"code/Snakefile", "code/rules/common.smk", "code/scripts/reproduce_archive.py"} <= set(code)
    assert not any("/results/" in name or name.startswith("code/.venv") for name in code)



RESULTS = ["results/figures/collapse.png", "results/pico/round0/eval.json", "results/verdict.csv"]
MANIFEST = "results/manifest.json"


def small_run() -> dict:
    """The archive entries of a tiny run, written into the current directory: results with fixed mtimes, the
    code and environment as bytes."""
    files = {MANIFEST: '{"jobs": []}\n', "results/pico/round0/eval.json": '{"round": 0}\n',
             "results/verdict.csv": "model,verdict\npico,degraded\n"}
    for path, text in files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    Path("results/figures").mkdir()
    Image.new("RGB", (2, 2)).save("results/figures/collapse.png")
    for i, path in enumerate(RESULTS + [MANIFEST]):
        os.utime(path, (1_700_000_000 + 100 * i, 1_700_000_000 + 100 * i + 0.7))
    entries = {path: Path(path) for path in RESULTS + [MANIFEST]}
    entries.update({"code/Snakefile": b"rule all:\n    input: 'results/verdict.csv'\n", "code/README.md": b"# x\n",
                    "code/requirements.txt": b"# the stack\nsnakemake==1.0.0\nlm-eval[hf]==0.4.13  # evaluation\n",
                    "config.yaml": b"seed: 7\n", "environment/pip-freeze.txt": b"snakemake==9.27.1\n",
                    "archive.json": b"{}\n"})
    return entries


def unpacked_crate(tmp_path, entries) -> Path:
    """entries with their crate, packed by write_archive and unpacked again: the crate's folder."""
    entries[CRATE] = run_crate(entries, RESULTS, run_times(RESULTS + [MANIFEST]), MANIFEST, "0123abc")
    write_archive(tmp_path / "run.tar.gz", "run", entries)
    with tarfile.open(tmp_path / "run.tar.gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    return tmp_path / "unpacked/run"


@pytest.fixture
def crate_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return unpacked_crate(tmp_path, small_run())


def test_crate_describes_the_run_and_is_a_valid_workflow_run_crate(crate_dir, validate_crate):
    graph = {e["@id"]: e for e in json.loads((crate_dir / CRATE).read_text())["@graph"]}
    root, engine = graph["./"], importlib.metadata.version("snakemake")
    assert root["mainEntity"] == {"@id": "code/Snakefile"}
    assert root["license"] == {"@id": "https://spdx.org/licenses/Apache-2.0"}
    assert graph["https://spdx.org/licenses/Apache-2.0"]["identifier"] == "Apache-2.0"
    assert [c["@id"] for c in root["conformsTo"]] == [
        "https://w3id.org/ro/wfrun/process/0.5", "https://w3id.org/ro/wfrun/workflow/0.5",
        "https://w3id.org/workflowhub/workflow-ro-crate/1.0"]
    assert graph[CRATE]["conformsTo"] == [{"@id": "https://w3id.org/ro/crate/1.1"},
                                          {"@id": "https://w3id.org/workflowhub/workflow-ro-crate/1.0"}]
    workflow = graph["code/Snakefile"]
    assert workflow["@type"] == ["File", "SoftwareSourceCode", "ComputationalWorkflow"]
    assert workflow["version"] == "0123abc"
    language = graph[workflow["programmingLanguage"]["@id"]]
    assert (language["name"], language["version"]) == ("Snakemake", engine)
    # the engine that ran, then the pins of requirements.txt (here one that differs from the engine)
    assert workflow["softwareRequirements"] == [{"@id": f"https://pypi.org/project/snakemake/{engine}/"},
                                                {"@id": "https://pypi.org/project/lm-eval/0.4.13/"},
                                                {"@id": "https://pypi.org/project/snakemake/1.0.0/"}]
    assert graph["https://pypi.org/project/lm-eval/0.4.13/"] == {
        "@id": "https://pypi.org/project/lm-eval/0.4.13/", "@type": "SoftwareApplication", "name": "lm-eval",
        "url": "https://pypi.org/project/lm-eval/0.4.13/", "version": "0.4.13"}
    action = graph[root["mentions"]["@id"]]
    assert action["@type"] == "CreateAction" and action["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert action["instrument"] == {"@id": "code/Snakefile"} and action["object"] == {"@id": "config.yaml"}
    assert action["result"] == [{"@id": path} for path in RESULTS]
    # no Snakemake job records here: each file's mtime, to the second, is its job's start and end
    assert (action["startTime"], action["endTime"]) == ("2023-11-14T22:13:20+00:00", "2023-11-14T22:18:20+00:00")
    assert root["datePublished"] == action["endTime"]
    assert {p["@id"] for p in root["hasPart"]} == set(RESULTS) | {
        MANIFEST, "archive.json", "config.yaml", "code/Snakefile", "code/README.md", "code/requirements.txt",
        "environment/pip-freeze.txt"}
    assert validate_crate(crate_dir) == []
    # what RECOMMENDED still misses, none of which a run knows: who ran it (the action's agent, the crate's
    # author and publisher), a public address of the workflow (an application's url, an absolute id of the
    # Snakefile), a README.md about the crate itself at its top (code/README.md is the workflow's), and the
    # Bioschemas ComputationalWorkflow profile, whose required creator and formal parameters the run has not
    assert validate_crate(crate_dir, "RECOMMENDED") == [
        "process-run-crate-0.5_3.2", "process-run-crate-0.5_5.1", "process-run-crate-0.5_8.6", "ro-crate-1.1_22.2",
        "ro-crate-1.1_22.3", "workflow-ro-crate-1.0_6.1", "workflow-ro-crate-1.0_6.2", "workflow-ro-crate-1.0_8.1"]


def _without_license(graph):
    graph["./"].pop("license")


def _action_without_instrument(graph):
    next(e for e in graph.values() if e["@type"] == "CreateAction").pop("instrument")


@pytest.mark.parametrize("break_crate,failed", [
    (_without_license, ["ro-crate-1.1_8.3", "workflow-ro-crate-1.0_5.1"]),
    (_action_without_instrument, ["process-run-crate-0.5_1.1", "workflow-run-crate-0.5_4.1"]),
])
def test_a_broken_crate_fails_validation(crate_dir, validate_crate, break_crate, failed):
    metadata = json.loads((crate_dir / CRATE).read_text())
    break_crate({e["@id"]: e for e in metadata["@graph"]})
    (crate_dir / CRATE).write_text(json.dumps(metadata))
    assert validate_crate(crate_dir) == failed


def test_crate_bytes_depend_only_on_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entries = small_run()
    first = run_crate(entries, RESULTS, run_times(RESULTS + [MANIFEST]), MANIFEST, "0123abc")
    again = run_crate(dict(reversed(entries.items())), RESULTS, run_times(RESULTS + [MANIFEST]), MANIFEST, "0123abc")
    assert first == again


def test_run_times_start_where_snakemake_started_the_first_job(tmp_path, monkeypatch):
    (tmp_path / "Snakefile").write_text(
        'rule second:\n    input: "first.txt"\n    output: "second.txt"\n    shell: "cp {input} {output}"\n\n'
        'rule first:\n    output: "first.txt"\n    shell: "sleep 2 && echo one > {output}"\n')
    before = int(datetime.now().timestamp())
    subprocess.run([SNAKEMAKE, "--cores", "1", "-d", str(tmp_path), "-s", str(tmp_path / "Snakefile"), "second.txt"],
                   check=True, capture_output=True)
    monkeypatch.chdir(tmp_path)
    start, end = run_times(["first.txt", "second.txt"])
    first_written = os.stat("first.txt").st_mtime
    # Snakemake's record of the first job: before its sleep, so at least 2 s before its output was written
    assert before <= datetime.fromisoformat(start).timestamp() <= first_written - 2
    assert datetime.fromisoformat(end).timestamp() == int(os.stat("second.txt").st_mtime)
    shutil.rmtree(tmp_path / ".snakemake")  # results copied without Snakemake's records: the outputs' mtimes
    start, end_again = run_times(["first.txt", "second.txt"])
    assert (datetime.fromisoformat(start).timestamp(), end_again) == (int(first_written), end)
