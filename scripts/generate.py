"""Step: the model of round r-1 writes round r's synthetic corpus with the condition's prompting strategy."""

from selftrain.generation import generate_corpus
from selftrain.io import read_jsonl, write_jsonl
from selftrain.modeling import load_checkpoint
from selftrain.prompts import make_strategy, strategy_for_round, strategy_source
from selftrain.step import step

p, w = snakemake.params, snakemake.wildcards
round_ = int(w["round"])
with step(snakemake) as log:
    where = f"condition {w['condition']} seed {w['seed']} round {round_}"
    model, tok = load_checkpoint(snakemake.input.model)
    spec = strategy_for_round(p.condition["prompt"], round_)
    source = strategy_source(p.condition["prompt"], round_)
    docs = read_jsonl(snakemake.input[source]) if source else []
    try:
        strategy = make_strategy(spec, tok, docs, p.seed)
        log(f"prompt strategy {strategy.name} ({len(docs)} source documents)")
        records = generate_corpus(
            model, tok, strategy, budget=p.generation["tokens_per_round"], sampling=p.condition["sampling"],
            batch_size=p.generation["batch_size"], seed=p.seed, id_prefix=f"round{round_}", log=log,
        )
    except (ValueError, RuntimeError) as e:
        raise RuntimeError(f"{where}: {e}") from None
    write_jsonl(snakemake.output[0], records)
