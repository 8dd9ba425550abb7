"""What every workflow step shares: logging to the rule's log, threads, offline mode, clean errors."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from .io import InputError
from .provenance import write_records


def gpu_count(resources, default: int = 0) -> int:
    """The GPUs a job asked for: its `gpu` resource, else the count of a gpu entry of its `gres`
    ("gpu:a100:4" is 4, a bare "gpu" is 1 as in Slurm), else default."""
    if resources.get("gpu"):
        return int(resources.get("gpu"))
    for entry in str(resources.get("gres") or "").split(","):
        parts = entry.strip().split(":")
        if parts[0] == "gpu":
            return int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return default


@contextlib.contextmanager
def step(smk, offline: bool = True, uses_torch: bool = True):
    """Run a step body with print-style logging to smk.log[0] (and stderr); bad input exits 1 cleanly.

    The body may add facts for the provenance record: log.facts["backend"] = "vllm".

    Steps that never touch a model pass uses_torch=False and skip torch's multi-second import."""
    if offline:
        # nothing may reach a hub at run time unless a rule (the hub download) says so
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    log_path = smk.log[0] if len(smk.log) else None
    log_file = open(log_path, "a", encoding="utf-8") if log_path else None
    t0 = time.perf_counter()

    def log(*parts):
        line = " ".join(str(p) for p in parts)
        stamp = f"[{time.perf_counter() - t0:7.1f}s] {line}"
        print(stamp, file=sys.stderr, flush=True)
        if log_file:
            log_file.write(stamp + "\n")
            log_file.flush()

    log.facts = {}
    try:
        if uses_torch:
            import torch

            torch.set_num_threads(max(1, int(smk.threads)))
        log(f"rule {smk.rule}: threads={smk.threads}")
        yield log
        # the record is written only after the body succeeded, so a record never describes a half-written target
        sidecars = write_records(smk, log.facts)
        log(f"done; provenance in {', '.join(map(str, sidecars))}")
    except (InputError, ValueError, RuntimeError) as e:
        log(f"ERROR: {e}")
        raise SystemExit(1) from None
    finally:
        if log_file:
            log_file.close()
