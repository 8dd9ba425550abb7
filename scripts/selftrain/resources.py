"""The resources of a kind of job: from the config (before any job runs) and as Snakemake gave them (in a job)."""

from __future__ import annotations


def config_resource(config: dict, model: str, kind: str, key: str, default=None):
    """config key models.<model>.resources.<kind>.<key>, falling back to resources.<kind>.<key>, then default."""
    top = config.get("resources", {}).get(kind, {}).get(key, default)
    return config["models"][model].get("resources", {}).get(kind, {}).get(key, top)


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


def job_gpus(smk) -> int:
    """The GPUs this job was given (config key resources.<kind>.gpus as Snakemake's gpu resource, or a gpu
    entry of resources.<kind>.gres); 0 when it asked for none."""
    return gpu_count(smk.resources)
