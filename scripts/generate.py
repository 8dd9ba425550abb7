"""Step: the model of round r-1 writes round r's synthetic corpus with the condition's prompting strategy."""

from selftrain.generation import generate_corpus
from selftrain.io import read_jsonl, write_jsonl
from selftrain.modeling import load_checkpoint, trusts_remote_code
from selftrain.prompts import make_strategy
from selftrain.step import step

p = snakemake.params
with step(snakemake) as log:
    model, tok = load_checkpoint(snakemake.input.model, trust_remote_code=trusts_remote_code(snakemake))
    real = read_jsonl(snakemake.input.real) if p.condition["prompt"]["strategy"] == "real_prefix" else []
    strategy = make_strategy(p.condition["prompt"], tok, real, p.seed)
    records = generate_corpus(
        model, tok, strategy, budget=p.generation["tokens_per_round"], sampling=p.condition["sampling"],
        batch_size=p.generation["batch_size"], seed=p.seed, id_prefix=f"round{snakemake.wildcards['round']}", log=log,
    )
    write_jsonl(snakemake.output[0], records)
