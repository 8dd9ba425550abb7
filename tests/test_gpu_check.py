"""`make gpu-check` (tests/gpu/check.py), the parts a machine without a GPU can check: it fails loudly there, its
arguments, its summary, its reading of pytest's report (a skip fails), and the round it would run (the paper preset
cut to one tiny round) as Snakemake plans it."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tests/gpu/check.py"
sys.path.insert(0, str(CHECK.parent))

import check  # noqa: E402
from workflow_runs import SNAKEMAKE, jobs_of  # noqa: E402


def run_check(*args):
    return subprocess.run([sys.executable, str(CHECK), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_without_a_gpu_it_fails_loudly_and_checks_nothing(tmp_path):
    import torch

    assert not torch.cuda.is_available()  # this test is about the machine without one
    proc = run_check("--workdir", str(tmp_path / "gc"))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == f"gpu-check: torch {torch.__version__} (CUDA build {torch.version.cuda})"
    assert lines[1].split()[:2] == ["preflight", "FAILED"] and "no CUDA device visible" in lines[1]
    assert lines[2].startswith("gpu-check: FAILED: preflight in ")
    assert not (tmp_path / "gc").exists()


def test_arguments_name_the_steps():
    proc = run_check("--steps", "round", "bogus")
    assert proc.returncode == 2
    assert "invalid choice: 'bogus' (choose from 'paths', 'round', 'throughput')" in proc.stderr


def test_the_summary_is_one_block_with_the_failed_steps_last():
    rows = [("paths", True, 61.2, "6 passed"), ("round", False, 130.0, "snakemake failed; see r.log")]
    assert check.summary("1 x H100", rows, 191.4) == (
        "gpu-check: 1 x H100\n"
        "  paths      PASSED      61 s  6 passed\n"
        "  round      FAILED     130 s  snakemake failed; see r.log\n"
        "gpu-check: FAILED: round in 191 s")


def test_a_skipped_gpu_test_fails_the_check(tmp_path):
    """pytest's own junit report of a real run: a pass alone passes; a skip (vllm missing, no CUDA) fails."""
    (tmp_path / "test_x.py").write_text("import pytest\ndef test_a():\n    pass\n"
                                        "@pytest.mark.skipif(True, reason='no vllm')\ndef test_b():\n    pass\n")
    report = tmp_path / "r.xml"
    for select, expected in (("test_a", (True, "1 passed")),
                             (None, (False, "1 passed, 1 skipped (a skip is a failure here)"))):
        report.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                        str(tmp_path / "test_x.py"), f"--junitxml={report}", *(["-k", select] if select else [])],
                       cwd=tmp_path, capture_output=True, timeout=120)
        assert check.junit_verdict(report) == expected
    assert check.junit_verdict(tmp_path / "none.xml") == (False, "no test report (pytest did not get to run the tests)")


def test_the_round_is_the_paper_preset_cut_to_one_tiny_round(tmp_path):
    cfg = check.round_config(tmp_path, gpus=2)
    assert (cfg["generation"]["backend"], cfg["evaluation"].get("backend", "auto")) == ("vllm", "auto")
    assert cfg["models"]["olmo2-1b"]["resources"]["train"]["gpus"] == 2
    proc = subprocess.run([SNAKEMAKE, "-n", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--configfile",
                           str(tmp_path / "config.yaml"), "--cores", "1", "results/data/hub_fetched.json",
                           "results/figures/collapse.pdf"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = jobs_of(proc.stdout)
    assert {k: jobs.get(k) for k in ("fetch_hub", "generate_shared", "filter_shared", "train_round",
                                     "evaluate_round", "plot")} == {
        "fetch_hub": 1, "generate_shared": 1, "filter_shared": 2, "train_round": 2, "evaluate_round": 2, "plot": 1}
    # every training job asks for the two GPUs its FSDP2 shards over
    assert proc.stdout.count("gpu=2") == 2


@pytest.mark.parametrize("target", ["gpu-check"])
def test_make_builds_its_venv_from_the_cluster_pins(target, tmp_path):
    out = subprocess.run(["make", "-n", target, f"GPU_VENV={tmp_path / 'v'}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60).stdout.splitlines()
    assert f"{tmp_path / 'v'}/bin/pip install -q -r requirements-gpu.txt $(grep -E '^pytest==' requirements.txt)" in out
    assert out[-1] == f"{tmp_path / 'v'}/bin/python tests/gpu/check.py"
