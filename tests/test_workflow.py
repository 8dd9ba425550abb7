"""End to end: the real Snakemake on a tiny config in a temp dir (real corpus, model, lm-eval, plot)."""

import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from workflow_runs import ROOT, SNAKEMAKE, TINY, jobs_of, outputs, snakemake, status_of, write_config

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out


def test_targets_are_complete_and_valid(tiny_run):
    from pypdf import PdfReader

    res = tiny_run / "results"
    train = (res / "data/train.jsonl").read_text().splitlines()
    held = (res / "data/heldout.jsonl").read_text().splitlines()
    assert (len(train), len(held)) == (770, 8)
    for cond in ("unconditional", "real_prefix"):
        for rnd in (1, 2):
            d = res / f"pico/{cond}/seed0/round{rnd}"
            gen = [json.loads(line) for line in (d / "generated.jsonl").read_text().splitlines()]
            assert sum(g["meta"]["n_tokens"] for g in gen) == 1500
            assert all(set(g) == {"id", "text", "prompt", "meta"} for g in gen)
            filt = (d / "filtered.jsonl").read_text().splitlines()
            stats = json.loads((d / "filter_stats.json").read_text())
            assert stats["input_documents"] == len(gen) and stats["output_documents"] == len(filt)
            assert sorted(p.name for p in (d / "checkpoint").iterdir() if not p.name.startswith(".")) == [
                "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                "tokenizer_config.json", "training_info.json"]
            ev = json.loads((d / "eval.json").read_text())
            assert (ev["schema_version"], ev["model"], ev["condition"], ev["seed"], ev["round"]) == (2, "pico", cond, 0, rnd)
            h = ev["perplexity"]["heldout"]
            assert h["documents"] == 8 and h["word_perplexity"] > 1 and 0 < h["bits_per_byte"] < 16
    # a round's checkpoint loads with transformers and generates
    from selftrain.modeling import load_checkpoint

    model, tok = load_checkpoint(res / "pico/real_prefix/seed0/round2/checkpoint")
    assert model.config.model_type == "olmo2"
    assert json.loads((res / "pico/round0/eval.json").read_text())["round"] == 0
    summary = (res / "summary.csv").read_text().splitlines()
    assert summary[0] == "model,condition,seed,round,measure,set,metric,value"
    # per condition: 2 real sets x 3 + 4 downstream (2 tasks' metrics + average) + 11 diversity per corpus
    # (round 0: real; rounds 1-2: generated and filtered)
    assert len(summary) == 1 + 2 * (3 * (6 + 4) + 11 + 2 * 22)
    assert len(PdfReader(res / "figures/collapse.pdf").pages) == 3
    assert (res / "figures/collapse.png").stat().st_size > 10_000


def test_nothing_pending_after_a_full_run(tiny_run):
    out = snakemake(tiny_run, "-n", "results/figures/collapse.pdf").stdout
    assert jobs_of(out) == {}, out[-2000:]


def test_raising_rounds_and_adding_a_condition_schedule_only_new_jobs(tiny_run):
    cfg = json.loads(json.dumps(TINY))
    cfg["rounds"] = 3
    write_config(tiny_run, cfg)
    assert jobs_of(snakemake(tiny_run, "-n", "results/figures/collapse.pdf").stdout) == {
        "generate": 2, "filter_corpus": 2, "train_round": 2, "evaluate_round": 2, "aggregate": 1, "plot": 1}
    cfg = json.loads(json.dumps(TINY))
    cfg["conditions"]["greedy"] = {"prompt": {"strategy": "unconditional"}, "sampling": {"method": "greedy"}}
    write_config(tiny_run, cfg)
    # round 1 of a new sampling preset is a new shared generation, linked into the condition's folder
    assert jobs_of(snakemake(tiny_run, "-n", "results/figures/collapse.pdf").stdout) == {
        "generate_shared": 1, "filter_shared": 1, "link_shared_round": 1, "generate": 1, "filter_corpus": 1,
        "train_round": 2, "evaluate_round": 2, "aggregate": 1, "plot": 1}
    write_config(tiny_run, TINY)


def test_a_filter_that_empties_the_corpus_fails_and_keeps_what_was_built(tiny_run, tmp_path):
    reference = tmp_path / "run"
    shutil.copytree(tiny_run, reference, symlinks=True)
    before = outputs(reference)
    cfg = json.loads(json.dumps(TINY))
    cfg["conditions"]["strict"] = {"prompt": {"strategy": "unconditional"},
                                   "filters": [{"name": "min_length", "min_tokens": 10000}]}
    write_config(reference, cfg)
    proc = snakemake(reference, "results/manifest.json", check=False)
    assert proc.returncode != 0
    assert "condition strict seed 0 round 1: the filters ['min_length'] removed every document" in proc.stdout + proc.stderr
    after = outputs(reference)
    assert {p: after[p] for p in before} == before  # nothing already built is lost or changed
    # its round 1 shares unconditional's generation; the filtering of that corpus by its chain failed
    assert status_of(reference, "shared")[:2] == ["done", "failed (filter_shared)"]
    assert status_of(reference, "strict")[:2] == ["done", "pending (link_shared_round)"]


def test_every_target_has_a_record_and_the_manifest_verifies(tiny_run):
    rec = json.loads((tiny_run / "results/pico/unconditional/seed0/round2/checkpoint.prov.json").read_text())
    assert rec["rule"] == "train_round"
    assert rec["wildcards"] == {"model": "pico", "condition": "unconditional", "seed": "0", "round": "2"}
    assert set(rec["input"]["files"]) == {"results/pico/unconditional/seed0/round1/checkpoint",
                                          "results/pico/unconditional/seed0/round2/filtered.jsonl"}
    assert "model.safetensors" in rec["output"]["files"]["results/pico/unconditional/seed0/round2/checkpoint"]["files"]
    assert rec["seeds"] == {"seed": rec["params"]["seed"]} and len(rec["config_hash"]) == 16
    assert rec["device"]["backend"] == "cpu" and rec["packages"]["torch"].startswith("2.")
    assert rec["facts"]["scratch_dir"] == "results/.scratch/pico/unconditional/seed0/round2/checkpoint"
    for ev in ("pico/round0/eval.json", "pico/unconditional/seed0/round2/eval.json"):
        facts = json.loads((tiny_run / f"results/{ev}.prov.json").read_text())["facts"]
        assert facts == {"evaluation_backend": "hf", "evaluation_device": "cpu"}
    assert len(rec["code"]["commit"]) == 40
    manifest = json.loads((tiny_run / "results/manifest.json").read_text())
    # data, tasks, ood set, tail vocabulary, tokenizer, round 0, rounds (round 1: link, train, evaluate),
    # shared round 1 (generate, filter), aggregate + plot + reading
    assert len(manifest["jobs"]) == 1 + 2 + 1 + 1 + 1 + 2 + (2 * 4 + 2 * 3) + 2 * 2 + 3
    verify = [sys.executable, str(ROOT / "scripts/verify_manifest.py"), "--verify"]
    assert subprocess.run(verify, cwd=tiny_run, capture_output=True).returncode == 0
    target = tiny_run / "results/pico/real_prefix/seed0/round1/filter_stats.json"
    original = target.read_bytes()
    target.write_bytes(original.replace(b"{", b"{ ", 1))
    proc = subprocess.run(verify, cwd=tiny_run, capture_output=True, text=True)
    target.write_bytes(original)
    assert proc.returncode == 1
    assert "MISMATCH results/pico/real_prefix/seed0/round1/filter_stats.json: sha256" in proc.stdout


def test_deleting_and_rebuilding_one_target_gives_the_same_bytes(tiny_run):
    ckpt = tiny_run / "results/pico/real_prefix/seed0/round2/checkpoint"
    later = [ckpt / "model.safetensors", ckpt.with_name("eval.json"), tiny_run / "results/summary.csv",
             tiny_run / "results/figures/collapse.pdf", tiny_run / "results/manifest.json", Path(f"{ckpt}.prov.json")]
    before = {p: p.read_bytes() for p in later}
    make_writable(ckpt)  # protected: read-only (root could delete it anyway, an ordinary user cannot)
    shutil.rmtree(ckpt)
    snakemake(tiny_run, "results/pico/real_prefix/seed0/round2/checkpoint")
    assert jobs_of(snakemake(tiny_run, "-n", "results/manifest.json").stdout) == {
        "evaluate_round": 1, "aggregate": 1, "plot": 1, "reading": 1, "manifest": 1}
    snakemake(tiny_run, "results/manifest.json")
    for p in later:
        assert p.read_bytes() == before[p], p


def make_writable(path):
    """chmod -R u+w: how a user rebuilds or deletes a protected checkpoint on purpose."""
    for p in [path, *path.rglob("*")]:
        p.chmod(stat.S_IMODE(p.lstat().st_mode) | stat.S_IWUSR)


def checkpoints(workdir):
    return [workdir / "results/pico/round0/checkpoint"] + sorted((workdir / "results/pico").glob("*/seed0/round*/checkpoint"))


def test_finished_checkpoints_are_read_only(tiny_run):
    assert len(checkpoints(tiny_run)) == 1 + 2 * 2
    for ckpt in checkpoints(tiny_run):
        for p in [ckpt, *ckpt.rglob("*")]:
            assert stat.S_IMODE(p.lstat().st_mode) & 0o222 == 0, p
    assert (tiny_run / "results/pico/round0/eval.json").stat().st_mode & stat.S_IWUSR  # only checkpoints


def unprivileged(workdir) -> list:
    """A command prefix under which file permissions bind as they do for an ordinary user (for root, who may
    write anything, Snakemake's protection never triggers): nobody, with workdir handed to it, when it can
    run this interpreter; else root without the capabilities that override file modes."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without util-linux setpriv: no way to drop root's permission override")
    nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    # Snakemake runs script jobs with the real interpreter behind the venv's symlinks
    probes = [["test", "-x", os.path.realpath(sys.executable), "-a", "-r", str(ROOT / "Snakefile")],
              [sys.executable, "-c", "import snakemake"]]
    if all(subprocess.run(nobody + probe, capture_output=True, cwd="/").returncode == 0 for probe in probes):
        for p in [workdir, *workdir.rglob("*")]:
            os.lchown(p, 65534, 65534)
        return nobody
    # the interpreter or checkout is private to root (e.g. under /root): root, minus CAP_DAC_OVERRIDE
    capless = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    probe = workdir / ".read-only-probe"
    probe.write_text("")
    probe.chmod(0o444)
    binds = subprocess.run(capless + ["test", "!", "-w", str(probe)], capture_output=True).returncode == 0
    probe.unlink()
    if not binds:
        pytest.skip("neither user nobody nor root without CAP_DAC_OVERRIDE can be used here")
    return capless


def test_a_changed_input_cannot_rebuild_a_protected_checkpoint(tiny_run):
    base = Path(tempfile.mkdtemp(prefix="protected-"))
    base.chmod(0o755)  # reachable by an unprivileged user
    try:
        wd = base / "wd"
        shutil.copytree(tiny_run, wd, symlinks=True)
        prefix = unprivileged(wd)
        ckpt = "results/pico/unconditional/seed0/round2/checkpoint"
        weights = (wd / ckpt / "model.safetensors").read_bytes()
        # the upstream corpus changes (Snakemake compares small inputs' checksums, so a touch alone would not do)
        corpus = (wd / ckpt).with_name("filtered.jsonl")
        # copies of ten documents: more tokens than one packed block, so the training data surely changes (one
        # short copy can end up in the partial last block, which packing drops)
        docs = [json.loads(line) for line in corpus.read_text().splitlines()[:10]]
        with open(corpus, "a") as f:
            f.writelines(json.dumps(dict(doc, id=doc["id"] + "-again")) + "\n" for doc in docs)
        cmd = prefix + [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(wd), "--configfile", str(wd / "config.yaml"),
                        "--cores", "2", ckpt, "--rerun-triggers", "mtime"]
        env = dict(os.environ, HOME=str(wd), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
        for extra in ([], ["--force"]):  # --force does not override the protection either
            proc = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, timeout=600)
            out = proc.stdout + proc.stderr
            assert proc.returncode != 0 and "Write-protected output files" in out and ckpt in out, out[-3000:]
            assert (wd / ckpt / "model.safetensors").read_bytes() == weights
        # the documented way to rebuild it on purpose
        assert subprocess.run(prefix + ["chmod", "-R", "u+w", str(wd / ckpt)]).returncode == 0
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        assert (wd / ckpt / "model.safetensors").read_bytes() != weights  # retrained on the changed corpus
        assert stat.S_IMODE((wd / ckpt / "model.safetensors").stat().st_mode) & 0o222 == 0  # protected again
    finally:
        make_writable(base)
        shutil.rmtree(base)


def test_archive_recreates_the_figure_and_verifies_on_a_fresh_directory(tiny_run, tmp_path, validate_crate):
    snakemake(tiny_run, "results/archive/tiny.tar.gz")
    archive = tiny_run / "results/archive/tiny.tar.gz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path, filter="data")
    assert {"tiny/code/Snakefile", "tiny/config.yaml", "tiny/environment/pip-freeze.txt", "tiny/archive.json",
            "tiny/results/manifest.json", "tiny/results/summary.csv", "tiny/results/figures/collapse.pdf",
            "tiny/results/pico/real_prefix/seed0/round2/eval.json", "tiny/ro-crate-metadata.json"} <= set(names)
    assert not any(n.endswith((".safetensors", ".jsonl")) for n in names)  # archive.checkpoints/corpora: false
    root = tmp_path / "tiny"
    # the crate: a valid Workflow Run RO-Crate whose run made the 5 eval JSONs, the 3 tables, the figures and the
    # reading
    assert validate_crate(root) == []
    graph = {e["@id"]: e for e in json.loads((root / "ro-crate-metadata.json").read_text())["@graph"]}
    action = graph[graph["./"]["mentions"]["@id"]]
    results = sorted(n.removeprefix("tiny/") for n in names if n.endswith("/eval.json"))
    assert len(results) == 5 and action["result"] == [{"@id": p} for p in sorted(results + [
        "results/contrasts.csv", "results/figures/collapse.pdf", "results/figures/collapse.png", "results/reading.md",
        "results/summary.csv", "results/summary_ci.csv", "results/verdict.csv"])]
    # from Snakemake's record of the first job's start to the manifest, the run's last output
    start, end = (datetime.fromisoformat(action[k]).timestamp() for k in ("startTime", "endTime"))
    assert start <= (tiny_run / "results/data/train.jsonl").stat().st_mtime
    assert end == int((tiny_run / "results/manifest.json").stat().st_mtime)
    software = [s["@id"] for s in graph["code/Snakefile"]["softwareRequirements"]]
    engine = importlib.metadata.version("snakemake")
    assert software[0] == f"https://pypi.org/project/snakemake/{engine}/" and len(software) == len(set(software))
    env = {"PATH": os.environ["PATH"]}  # nothing of this checkout: the archive's own code only
    cmd = [sys.executable, "code/scripts/reproduce_archive.py"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "figure byte-identical; manifest verified, all match" in proc.stdout
    assert (root / "reproduced/summary.csv").read_bytes() == (tiny_run / "results/summary.csv").read_bytes()
    ev = root / "results/pico/unconditional/seed0/round1/eval.json"
    ev.write_text(ev.read_text().replace('"round": 1', '"round": 3'))
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "MISMATCH results/pico/unconditional/seed0/round1/eval.json: sha256" in proc.stdout
    assert "MISMATCH results/summary.csv: re-created from the eval JSONs, it differs" in proc.stdout


def test_no_shell_directive_takes_config_values():
    # every rule runs a script: config values reach steps as Python objects, never through a shell
    for smk in sorted((ROOT / "rules").glob("*.smk")) + [ROOT / "Snakefile"]:
        assert not re.search(r"^\s+(shell|run):", smk.read_text(), re.M), smk


def test_every_eval_json_meets_the_schema_and_holds_all_measures(tiny_run):
    import csv

    from selftrain.evaluation import validate_eval_record

    evals = sorted((tiny_run / "results").rglob("eval.json"))
    assert len(evals) == 1 + 2 * 2
    for path in evals:
        ev = json.loads(path.read_text())
        validate_eval_record(ev)
        assert set(ev["perplexity"]) == {"heldout", "ood"} and ev["perplexity"]["ood"]["documents"] == 1
        assert {t: d["items"] for t, d in ev["downstream"].items()} == {"last_word": 24, "minimal_pairs": 24}
        assert set(ev["diversity"]) == ({"real"} if ev["round"] == 0 else {"generated", "filtered"})
    real = json.loads((tiny_run / "results/pico/round0/eval.json").read_text())["diversity"]["real"]
    assert (real["words"], real["documents"]) == (600, 30) and 0 < real["tail_survival"] < 1
    tasks = tiny_run / "results/data/tasks"
    assert [len((tasks / f"{t}.jsonl").read_text().splitlines()) for t in ("last_word", "minimal_pairs")] == [24, 24]
    with open(tiny_run / "results/summary_ci.csv", newline="") as f:
        ci = list(csv.DictReader(f))
    assert len(ci) == 2 * (3 * (6 + 4) + 11 + 2 * 22)  # one seed: a row per summary row
    assert all(r["n"] == "1" and r["low"] == r["high"] == "" for r in ci)  # one seed: no interval
    with open(tiny_run / "results/verdict.csv", newline="") as f:
        verdict = list(csv.DictReader(f))
    # per condition: bits per byte and word perplexity on 2 real sets, 2 tasks + average, 3 diversity metrics
    assert len(verdict) == 2 * (4 + 3 + 3)
    # word perplexity is the same loss as bits per byte: its finding is theirs
    assert {r["verdict"] for r in verdict if r["role"] != "derived"} == {"one seed: no interval"}
    assert {r["verdict"] for r in verdict if r["role"] == "derived"} == {"same loss as bits per byte"}
    assert {(r["set"], r["items"]) for r in verdict if r["measure"] == "downstream"} == {
        ("last_word", "24"), ("minimal_pairs", "24"), ("average", "")}


def test_html_report_holds_figures_tables_and_config(tiny_run):
    snakemake(tiny_run, "--report", "report.html")
    html = (tiny_run / "report.html").read_text()
    # figures and tables with their captions, and the run's configuration (defaults filled) in the description
    for needle in ("collapse.pdf", "collapse.png", "summary.csv", "summary_ci.csv", "verdict.csv", "Collapse at a glance",
                   "Tidy summary", "The answer, computed", "reading.md", "The reading of this run",
                   "Recursive self-training of language models", "real_chunk_words&quot;: 20"):
        assert needle in html, needle


def test_bad_config_stops_before_any_job(tmp_path):
    cfg = json.loads(json.dumps(TINY))
    cfg["rounds"] = 0
    cfg["generation"]["tokenz"] = 5
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "results/figures/collapse.pdf", check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "config key 'generation.tokenz': unknown key" in err
    assert "config key 'rounds': 0 is less than the minimum of 1" in err
    assert not (tmp_path / "results").exists()


def test_lint_is_clean():
    proc = subprocess.run([SNAKEMAKE, "--lint"], cwd=ROOT, capture_output=True, text=True)
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
