"""Step: evaluate one round's checkpoint into eval.json: perplexity on each real set and downstream tasks
(through lm-eval), plus the diversity of the round's corpora (round 0: of the held-out real text)."""

import json

from selftrain.config import runtime_settings
from selftrain.diversity import diversity_record
from selftrain.evaluation import eval_record, evaluate_checkpoint, validate_eval_record, vllm_lm, vllm_model_args
from selftrain.generation import select_backend, vllm_device
from selftrain.io import atomic_write_json, read_jsonl
from selftrain.modeling import inference_device, load_checkpoint
from selftrain.resources import job_gpus
from selftrain.step import step

# vLLM spawns its engine core, and the spawned process re-runs this file as __mp_main__: only the
# process Snakemake started may run the step
if __name__ == "__main__":
    p = snakemake.params
    inp = snakemake.input
    with step(snakemake) as log:
        backend = select_backend(p.evaluation["backend"], "evaluation.backend")
        remote = p.trust_remote_code
        if backend == "vllm":
            gpus = max(1, job_gpus(snakemake))
            model = tok = None
            device = vllm_device()
            # vLLM's memory share from the config, not params: it cannot change a score, so it reruns nothing
            evaluation = {**p.evaluation, **runtime_settings(snakemake.config, snakemake.wildcards["model"], "evaluation")}
            lm = vllm_lm(vllm_model_args(inp.model, evaluation, p.seed, gpus, remote, device))
        else:
            lm, device = None, inference_device()
            model, tok = load_checkpoint(inp.model, device=device, trust_remote_code=remote)
        log(f"evaluation backend: {backend} on {device}")
        log.facts.update(evaluation_backend=backend, evaluation_device=device)
        perplexity_files = {"heldout": inp.heldout, **dict(zip(p.perplexity_sets, inp.perplexity_sets))}
        task_files = dict(zip(p.local_tasks, inp.tasks))
        perplexity, downstream = evaluate_checkpoint(model, tok, p.evaluation, perplexity_files, task_files, p.seed, lm=lm)
        with open(inp.tail) as f:
            tail = json.load(f)["words"]
        corpora = {name: read_jsonl(path) for name, path in zip(p.corpora, inp.corpora)}
        diversity = diversity_record(corpora, tail, p.evaluation["diversity"], p.seed)
        record = eval_record(p.identity, perplexity, downstream, diversity)
        validate_eval_record(record)
        atomic_write_json(snakemake.output[0], record)
        log(record["perplexity"], record["downstream"])
