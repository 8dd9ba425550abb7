"""Step: the model of round r-1 writes round r's synthetic corpus with the condition's prompting strategy."""

from selftrain.generation import generate_corpus, hf_sampler, select_backend, vllm_sampler
from selftrain.io import read_jsonl, write_jsonl
from selftrain.modeling import load_checkpoint, trusts_remote_code
from selftrain.prompts import make_strategy
from selftrain.step import step
from selftrain.tokenizer import load_tokenizer

p = snakemake.params
with step(snakemake) as log:
    backend = select_backend(p.generation["backend"])
    sampling = p.condition["sampling"]
    if backend == "vllm":
        tok = load_tokenizer(snakemake.input.model)
        sample = vllm_sampler(snakemake.input.model, sampling, p.seed, max(1, int(snakemake.resources.get("gpus", 1))),
                              trust_remote_code=trusts_remote_code(snakemake))
    else:
        model, tok = load_checkpoint(snakemake.input.model, trust_remote_code=trusts_remote_code(snakemake))
        sample = hf_sampler(model, tok, sampling, p.seed)
    log(f"generation backend: {backend}")
    real = read_jsonl(snakemake.input.real) if p.condition["prompt"]["strategy"] == "real_prefix" else []
    strategy = make_strategy(p.condition["prompt"], tok, real, p.seed)
    records = generate_corpus(
        sample, tok, strategy, budget=p.generation["tokens_per_round"], sampling=sampling,
        batch_size=p.generation["batch_size"], id_prefix=f"round{snakemake.wildcards['round']}", log=log,
    )
    write_jsonl(snakemake.output[0], records)
