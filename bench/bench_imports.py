"""Per-rule overhead: cold-start import cost of what each kind of step loads."""

from __future__ import annotations

import subprocess
import sys
import time

from common import report

IMPORTS = {
    "python only": "pass",
    "snakemake preamble (every script step)": "import snakemake.iocontainers, snakemake.logging",
    "torch": "import torch",
    "transformers Olmo2 (generate, train, filter)": "import torch; from transformers import Olmo2ForCausalLM, AutoTokenizer",
    "lm-eval HFLM (evaluate)": "import lm_eval; from lm_eval.models.huggingface import HFLM",
    "matplotlib (plot)": "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
}


def cold(stmt: str, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", stmt], check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main(quick: bool) -> list[dict]:
    reps = 1 if quick else 3
    times = {name: cold(stmt, reps) for name, stmt in IMPORTS.items()}
    return [report("step cold-start import seconds (best of runs)", None, "small next to the step's work",
                   **{k: v for k, v in times.items()})]
