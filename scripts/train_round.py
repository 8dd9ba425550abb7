"""Step: train round r's model (from round r-1 or the base model) on the documents of the data regime.

With resources gpus > 1 the same code runs data-parallel under `accelerate launch`, one process per GPU."""

from selftrain.config import runtime_settings
from selftrain.round_training import run_launched, train_round
from selftrain.step import step
from selftrain.training import discard_resume_state, scratch_dir, scratch_root

p, w = snakemake.params, snakemake.wildcards
with step(snakemake) as log:
    spec = {
        "init": snakemake.input.init, "synthetic": list(snakemake.input.synthetic),
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
    gpus = int(snakemake.resources.get("gpu", 0) or 0)
    log.facts["training_processes"] = max(1, gpus)
    if gpus > 1:
        run_launched(gpus, spec, scratch + ".launch.json", gpu=True, log=log)
        discard_resume_state(scratch, spec["scratch_root"])  # the spec's folders, now empty
    else:
        train_round(spec, log=log)
