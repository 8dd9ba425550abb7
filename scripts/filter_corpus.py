"""Step: apply the condition's filter chain to round r's generated corpus."""

from selftrain.config import sharing_conditions
from selftrain.filters import apply_filters
from selftrain.io import atomic_write_json, read_jsonl, write_jsonl
from selftrain.step import step
from selftrain.tokenizer import load_tokenizer

p, w = snakemake.params, snakemake.wildcards
# a chain of `none` filters reads no tokenizer or model: skip the seconds of importing torch and transformers
needs_model = any(f["name"] != "none" for f in p.filters)
with step(snakemake, uses_torch=needs_model) as log:
    docs = read_jsonl(snakemake.input.generated)
    tok = load_tokenizer(snakemake.input.model) if needs_model else None
    # a shared round 1 names the conditions that share it (from the config, not params: see sharing_conditions)
    names = [w["condition"]] if "condition" in w.keys() else sharing_conditions(
        snakemake.config, w["generation"], w["chain"] if "chain" in w.keys() else None)
    owner = f"condition{'s' if len(names) > 1 else ''} {', '.join(names)}"
    where = f"{owner} seed {w['seed']} round {w['round']}"
    # what the filters may read (checkpoints, real text, round 1's corpus, external scorers), by the names of the inputs
    context = {k: snakemake.input[k] for k in snakemake.input.keys() if k != "generated"}
    kept, stats = apply_filters(docs, p.filters, tok, where, context, p.seed, trust_remote_code=p.trust_remote_code)
    write_jsonl(snakemake.output.filtered, kept)
    atomic_write_json(snakemake.output.stats, stats)
    log(f"kept {len(kept)} of {len(docs)} documents")
