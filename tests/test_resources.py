"""What a partition allows, read from Slurm's own output (recorded from the local Slurm of tests/slurm, Slurm 22.05)
or, where Slurm does not answer, from config key slurm.partitions; a job beyond it is refused at load, naming the key.
The local Slurm itself: tests/test_slurm.py (test_each_job_on_one_node_...)."""

import json

import pytest

from selftrain.resources import node_gpus, partition_limits, slurm_limits, slurm_minutes
from workflow_runs import TINY, snakemake, write_config

# `scontrol -o show partition gpu` and `sinfo -h -N -p gpu -o '%G|%m'` of tests/slurm's cluster (4 GPUs as GRES,
# 100,000 MB), MaxTime and MaxMemPerNode as a partition that sets them prints them
SCONTROL = ("PartitionName=gpu AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A "
            "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
            "MaxTime={max_time} MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=localhost PriorityJobFactor=1 "
            "PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP "
            "TotalCPUs=8 TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
            "MaxMemPerNode={max_mem} TRES=cpu=8,mem=100000M,node=1,billing=8,gres/gpu=4\n")


def answers(max_time="UNLIMITED", max_mem="UNLIMITED", nodes="gpu:4|100000\n"):
    return lambda *cmd: SCONTROL.format(max_time=max_time, max_mem=max_mem) if cmd[0] == "scontrol" else nodes


def test_slurms_answer_is_read_as_limits():
    assert slurm_limits("gpu", answers()) == {"gpus_per_node": 4, "max_runtime": None, "max_mem_mb": 100000}
    assert slurm_limits("gpu", answers("2-00:00:00", "64000")) == {"gpus_per_node": 4, "max_runtime": 2880,
                                                                  "max_mem_mb": 64000}
    # nodes of two kinds: the largest node bounds a one-node job
    nodes = "gpu:a100:4(S:0-1)|512000\ngpu:h100:8(S:0-1),shard:8|1024000\n(null)|256000\n"
    assert slurm_limits("gpu", answers("01:30:00", nodes=nodes)) == {"gpus_per_node": 8, "max_runtime": 90,
                                                                     "max_mem_mb": 1024000}
    assert slurm_limits("gpu", answers(nodes="")) is None  # no such partition: sinfo lists no node
    assert [slurm_minutes(t) for t in ("00:10:00", "1-00:00:00", "00:00:30", "INFINITE")] == [10, 1440, 1, None]
    assert [node_gpus(g) for g in ("gpu:a100:4(S:0-1),gpu:v100:2", "gpu", "(null)")] == [6, 1, 0]


def test_the_config_speaks_where_slurm_does_not():
    config = {"slurm": {"partitions": {"gpu": {"gpus_per_node": 8, "max_runtime": 2880}}}}
    assert partition_limits(config, "gpu", ask_slurm=False) == (
        {"gpus_per_node": 8, "max_runtime": 2880}, "config key slurm.partitions.gpu")
    assert partition_limits(config, "cpu", ask_slurm=False) == ({}, "config key slurm.partitions.cpu")
    assert partition_limits(config, None) == ({}, "")  # a job that names no partition: not a Slurm run


@pytest.mark.parametrize(("resources", "message"), [
    ({"train": {"gpus": 4}},
     "config key 'models.pico.resources.train.gpus': the train job of model pico asks for 4 GPUs on one node, "
     "more than config key slurm.partitions.bigmem allows (gpus_per_node 2)"),
    ({"train": {"gres": "gpu:4"}}, "config key 'models.pico.resources.train.gres': the train job of model pico "
                                   "asks for 4 GPUs on one node"),
    ({"base": {"mem_mb": 600000}}, "config key 'models.pico.resources.base.mem_mb': the base job of model pico asks "
                                   "for 600000 MB, more than config key slurm.partitions.bigmem allows (max_mem_mb "
                                   "500000)"),
    ({"evaluate": {"runtime": 3000}}, "config key 'models.pico.resources.evaluate.runtime': the evaluate job of model"
                                      " pico asks for 3000 minutes")])
def test_a_job_beyond_its_partition_is_refused_before_any_job(tmp_path, resources, message):
    """With no Slurm answering for the partition (none named bigmem), its limits come from config key
    slurm.partitions: a dry run stops with one line naming the key."""
    cfg = json.loads(json.dumps(TINY))
    cfg["slurm"] = {"partitions": {"bigmem": {"gpus_per_node": 2, "max_runtime": 2880, "max_mem_mb": 500000}}}
    cfg["resources"] = {kind: {"slurm_partition": "bigmem"} for kind in ("base", "train", "evaluate")}
    cfg["models"]["pico"]["resources"] = resources
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "-n", "results/figures/collapse.pdf", check=False)
    assert proc.returncode == 1 and message in proc.stderr + proc.stdout, (proc.stdout + proc.stderr)[-3000:]
    cfg["models"]["pico"]["resources"] = {}  # within the limits: the dry run goes through
    write_config(tmp_path, cfg)
    assert snakemake(tmp_path, "-n", "results/figures/collapse.pdf").returncode == 0
