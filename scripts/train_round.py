"""Step: train round r's model (from round r-1 or the base model) on the documents of the data regime.

With resources gpus > 1 the same code runs data-parallel under `accelerate launch`, one process per GPU."""

from selftrain.modeling import trusts_remote_code
from selftrain.round_training import run_launched, train_round
from selftrain.step import gpu_count, step
from selftrain.training import discard_resume_state, scratch_dir, scratch_root

p, w = snakemake.params, snakemake.wildcards
with step(snakemake) as log:
    spec = {
        "init": snakemake.input.init, "synthetic": list(snakemake.input.synthetic),
        "real": snakemake.input.get("real"), "output": snakemake.output[0], "condition": p.condition,
        "training": p.training, "seed": p.seed, "round": int(w["round"]),
        "where": f"condition {w['condition']} seed {w['seed']} round {w['round']}",
        "trust_remote_code": trusts_remote_code(snakemake),
        # from the config, not params: moving the scratch must not make Snakemake rebuild a checkpoint
        "scratch_root": scratch_root(snakemake.config.get("scratch_dir")),
    }
    scratch = log.facts["scratch_dir"] = scratch_dir(spec["output"], spec["scratch_root"])
    gpus = gpu_count(snakemake.resources)
    log.facts["training_processes"] = max(1, gpus)
    if gpus > 1:
        run_launched(gpus, spec, scratch + ".launch.json", gpu=True, log=log)
        discard_resume_state(scratch, spec["scratch_root"])  # the spec's folders, now empty
    else:
        train_round(spec, log=log)
