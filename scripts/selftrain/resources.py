"""The resources of a kind of job: from the config (before any job runs) and as Snakemake gave them (in a job)."""

from __future__ import annotations


def config_resource(config: dict, model: str, kind: str, key: str, default=None):
    """config key models.<model>.resources.<kind>.<key>, falling back to resources.<kind>.<key>, then default."""
    top = config.get("resources", {}).get(kind, {}).get(key, default)
    return config["models"][model].get("resources", {}).get(kind, {}).get(key, top)


def job_gpus(smk) -> int:
    """The GPUs this job was given: Snakemake's standard resource gpu (the rules set it from config key
    resources.<kind>.gpus); 0 when unset."""
    return int(smk.resources.get("gpu", 0) or 0)
