"""Step: the model of round r-1 writes round r's synthetic corpus with the condition's prompting strategy."""

from selftrain.generation import generate_corpus, hf_sampler, select_backend, vllm_sampler
from selftrain.io import read_jsonl, write_jsonl
from selftrain.modeling import load_checkpoint, trusts_remote_code
from selftrain.prompts import make_strategy, strategy_for_round, strategy_source
from selftrain.step import gpu_count, step
from selftrain.tokenizer import load_tokenizer

p, w = snakemake.params, snakemake.wildcards
round_ = int(w["round"])
with step(snakemake) as log:
    where = f"condition {w['condition']} seed {w['seed']} round {round_}"
    backend = select_backend(p.generation["backend"])
    sampling = p.condition["sampling"]
    remote = trusts_remote_code(snakemake)
    if backend == "vllm":
        tok = load_tokenizer(snakemake.input.model)
        gpus = max(1, gpu_count(snakemake.resources, 1))
        sample = vllm_sampler(snakemake.input.model, sampling, p.seed, gpus, trust_remote_code=remote)
    else:
        model, tok = load_checkpoint(snakemake.input.model, trust_remote_code=remote)
        sample = hf_sampler(model, tok, sampling, p.seed)
    log(f"generation backend: {backend}")
    log.facts["generation_backend"] = backend
    spec = strategy_for_round(p.condition["prompt"], round_)
    source = strategy_source(p.condition["prompt"], round_)
    docs = read_jsonl(snakemake.input[source]) if source else []
    try:
        strategy = make_strategy(spec, tok, docs, p.seed)
        log(f"prompt strategy {strategy.name} ({len(docs)} source documents)")
        records = generate_corpus(
            sample, tok, strategy, budget=p.generation["tokens_per_round"], sampling=sampling,
            batch_size=p.generation["batch_size"], id_prefix=f"round{round_}", log=log,
        )
    except (ValueError, RuntimeError) as e:
        raise RuntimeError(f"{where}: {e}") from None
    write_jsonl(snakemake.output[0], records)
