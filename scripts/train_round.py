"""Step: train round r's model (from round r-1 or the base model) on the documents of the data regime.

With resources gpus > 1 the same code runs under torchrun, one process per GPU (training.sharding)."""

from selftrain.config import runtime_settings
from selftrain.resources import job_gpus
from selftrain.resume_state import scratch_dir, scratch_root
from selftrain.round_training import run_training
from selftrain.step import step

p, w = snakemake.params, snakemake.wildcards
with step(snakemake) as log:
    spec = {
        "job": "round", "init": snakemake.input.init, "synthetic": list(snakemake.input.synthetic),
        "real": snakemake.input.get("real"), "output": snakemake.output[0],
        "condition": {"data": p.data, "init": p.init},
        # the resume cadence from the config, not params: changing it must not rebuild a checkpoint
        "training": {**p.training, **runtime_settings(snakemake.config, w["model"], "training")}, "seed": p.seed, "round": int(w["round"]),
        "where": f"condition {w['condition']} seed {w['seed']} round {w['round']}",
        "trust_remote_code": p.trust_remote_code,
        # from the config, not params: moving the scratch must not make Snakemake rebuild a checkpoint
        "scratch_root": scratch_root(snakemake.config.get("scratch_dir")),
    }
    scratch = log.facts["scratch_dir"] = scratch_dir(spec["output"], spec["scratch_root"])
    processes = log.facts["training_processes"] = max(1, job_gpus(snakemake))
    run_training(spec, processes, scratch + ".launch.json", log=log)
