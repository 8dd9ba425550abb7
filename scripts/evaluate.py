"""Step: evaluate one round's checkpoint into eval.json: perplexity on each real set and downstream tasks
(through lm-eval), plus the diversity of the round's corpora (round 0: of the held-out real text)."""

import json

from selftrain.diversity import diversity_record
from selftrain.evaluation import eval_record, evaluate_checkpoint, validate_eval_record, vllm_lm, vllm_model_args
from selftrain.generation import select_backend
from selftrain.io import atomic_write_json, read_jsonl
from selftrain.modeling import load_checkpoint, trusts_remote_code
from selftrain.step import gpu_count, step

p = snakemake.params
inp = snakemake.input
with step(snakemake) as log:
    backend = select_backend(p.evaluation["backend"], "evaluation.backend")
    remote = trusts_remote_code(snakemake)
    if backend == "vllm":
        gpus = max(1, gpu_count(snakemake.resources, 1))
        model = tok = None
        lm, device = vllm_lm(vllm_model_args(inp.model, p.evaluation, p.seed, gpus, remote)), "cuda"
    else:
        import torch

        lm, device = None, "cuda" if torch.cuda.is_available() else "cpu"
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
