"""The benchmark suite still runs (quick sizes); its figures are read by people, never asserted on."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # `make test-fast` leaves this file out

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmarks_run_and_report_every_figure(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench/run.py"), "--quick", "--json", str(tmp_path / "b.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("generation tokens/s vs per-sample generate", "generation FLOP/s share",
                 "training tokens/s packed vs padded", "training non-padding token share",
                 "training matmul FLOP/s share", "training.compile", "perplexity eval tokens/s ours (sorted, batched)",
                 "downstream tasks through lm-eval: compiled task templates",
                 "MinHash dedup on 2,000 short documents", "perplexity scoring on 2,000 short documents",
                 "snakemake -n, 1 models x 4 conditions",
                 "snakemake --profile slurm -n, paper preset", "step cold-start import seconds"):
        assert name in proc.stdout, name
    assert "same_perplexity=True" in proc.stdout and "same_scores=True" in proc.stdout
