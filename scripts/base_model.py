"""Step: the round-0 model: pre-train a tiny Olmo2 here, copy a local checkpoint, or fetch a hub snapshot.

Pre-training on resources gpus > 1 runs one process per GPU under torchrun (training.sharding)."""

from selftrain.config import runtime_only
from selftrain.hub import copy_model_snapshot
from selftrain.io import atomic_directory
from selftrain.modeling import load_checkpoint, save_checkpoint
from selftrain.resources import job_gpus
from selftrain.resume_state import scratch_dir, scratch_root
from selftrain.round_training import run_training
from selftrain.step import step

base = snakemake.params.base
with step(snakemake) as log:
    out = snakemake.output[0]
    if base["kind"] == "pretrain":
        # the keys base_spec left out of params (config.RUNTIME_ONLY), read here from the config
        configured = snakemake.config["models"][snakemake.wildcards["model"]]["base"]["training"]
        spec = {
            "job": "pretrain", "tokenizer": snakemake.input.tokenizer, "train": snakemake.input.train,
            "architecture": base["architecture"], "seed": snakemake.params.seed,
            # the resume cadence from the config, not params: changing it must not rebuild the base model
            "training": {**base["training"], **runtime_only(configured, "training")},
            "output": out,
            # from the config, not params: moving the scratch must not make Snakemake rebuild a checkpoint
            "scratch_root": scratch_root(snakemake.config.get("scratch_dir")),
        }
        scratch = log.facts["scratch_dir"] = scratch_dir(out, spec["scratch_root"])
        processes = log.facts["training_processes"] = max(1, job_gpus(snakemake))
        run_training(spec, processes, scratch + ".launch.json", log=log)
    elif base["kind"] == "local":
        model, tok = load_checkpoint(base["path"], trust_remote_code=base["trust_remote_code"])  # refuses pickled weights
        save_checkpoint(model, tok, out, info={"source": base["path"]})
    else:  # hub: the pinned revision the fetch stage put into hub_cache, copied offline (safetensors only)
        with atomic_directory(out) as tmp:
            src = copy_model_snapshot(base["hub_id"], base["revision"], snakemake.config["hub_cache"], tmp)
        log.facts["hub_snapshot"] = str(src)
        log(f"copied {base['hub_id']}@{base['revision']} from {src}")
