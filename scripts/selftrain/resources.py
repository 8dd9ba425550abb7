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


def resource_key(config: dict, model: str, kind: str, key: str) -> str:
    """The config key path a resource of a model's kind of job comes from (the model's override, else the kind's)."""
    if key in config["models"][model].get("resources", {}).get(kind, {}):
        return f"models.{model}.resources.{kind}.{key}"
    return f"resources.{kind}.{key}"


# --- the partition a job is sent to ---
# scontrol prints times as [days-]hours:minutes:seconds, and UNLIMITED (or INFINITE) where the partition sets none
def slurm_minutes(text: str) -> int | None:
    """Minutes of a Slurm time limit as scontrol prints it (2-00:00:00, 01:30:00); None for UNLIMITED."""
    if text in ("UNLIMITED", "INFINITE"):
        return None
    days, _, clock = text.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return (int(days or 0) * 24 + h) * 60 + m + (s > 0)


def node_gpus(gres: str) -> int:
    """GPUs of one node from sinfo's %G ("gpu:a100:4(S:0-1),gpu:v100:2" is 6; "(null)" is 0)."""
    count = 0
    for entry in gres.split(","):
        parts = entry.split("(")[0].split(":")
        if parts[0] == "gpu":
            count += int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return count


def slurm_limits(partition: str, run=None) -> dict | None:
    """What Slurm says of a partition: {gpus_per_node, max_runtime (minutes), max_mem_mb} (None: no limit), from
    `scontrol show partition` (MaxTime, MaxMemPerNode) and `sinfo -N` (each node's GPUs and memory: a job on one
    node gets at most its largest node's); None where Slurm does not answer (no Slurm here, no such partition)."""
    import subprocess

    run = run or (lambda *cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout)
    try:
        fields = dict(item.split("=", 1) for item in run("scontrol", "-o", "show", "partition", partition).split()
                      if "=" in item)
        nodes = [line.split("|") for line in run("sinfo", "-h", "-N", "-p", partition, "-o", "%G|%m").splitlines()]
    except (OSError, subprocess.SubprocessError):
        return None
    if not nodes:
        return None
    # MaxMemPerNode=UNLIMITED; Slurm prints a per-CPU limit as MaxMemPerCPU instead, which this check leaves out
    per_node = fields.get("MaxMemPerNode", "UNLIMITED")
    largest = max(int(mem.rstrip("+")) for _, mem in nodes)
    return {"gpus_per_node": max(node_gpus(gres) for gres, _ in nodes),
            "max_runtime": slurm_minutes(fields.get("MaxTime", "UNLIMITED")),
            "max_mem_mb": largest if per_node == "UNLIMITED" else min(largest, int(per_node))}


def partition_limits(config: dict, partition: str | None, ask_slurm: bool = True) -> tuple[dict, str]:
    """(limits, where they come from) of a partition: Slurm's answer (slurm_limits), else config key
    slurm.partitions.<partition>; ({}, "") for a job that names no partition (a run without Slurm)."""
    if not partition:
        return {}, ""
    answer = slurm_limits(partition) if ask_slurm else None
    if answer is not None:
        return answer, f"Slurm's partition {partition} (scontrol show partition, sinfo)"
    return config["slurm"]["partitions"].get(partition, {}), f"config key slurm.partitions.{partition}"
