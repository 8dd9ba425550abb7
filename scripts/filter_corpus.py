"""Step: apply the condition's filter chain to round r's generated corpus."""

from selftrain.filters import apply_filters
from selftrain.io import atomic_write_json, read_jsonl, write_jsonl
from selftrain.step import step
from selftrain.tokenizer import load_tokenizer

p, w = snakemake.params, snakemake.wildcards
# a chain of `none` filters reads no tokenizer or model: skip the seconds of importing torch and transformers
needs_model = any(f["name"] != "none" for f in p.condition["filters"])
with step(snakemake, uses_torch=needs_model) as log:
    docs = read_jsonl(snakemake.input.generated)
    tok = load_tokenizer(snakemake.input.model) if needs_model else None
    where = f"condition {w['condition']} seed {w['seed']} round {w['round']}"
    # what the filters may read (checkpoints, real text, round 1's corpus), by the names of the inputs
    context = {k: snakemake.input[k] for k in ("model", "base", "real", "reference") if k in snakemake.input.keys()}
    kept, stats = apply_filters(docs, p.condition["filters"], tok, where, context, p.seed)
    write_jsonl(snakemake.output.filtered, kept)
    atomic_write_json(snakemake.output.stats, stats)
    log(f"kept {len(kept)} of {len(docs)} documents")
