"""Step: train round r's model (from round r-1 or the base model) on the documents of the data regime."""

from selftrain.io import read_jsonl
from selftrain.modeling import load_checkpoint, save_checkpoint, trusts_remote_code
from selftrain.regimes import composition, make_regime
from selftrain.step import step
from selftrain.training import discard_resume_state, pack_blocks, scratch_dir, tokenize_documents, train_causal_lm

p, w = snakemake.params, snakemake.wildcards
with step(snakemake) as log:
    model, tok = load_checkpoint(snakemake.input.init, trust_remote_code=trusts_remote_code(snakemake))
    where = f"condition {w['condition']} seed {w['seed']} round {w['round']}"
    regime = make_regime(p.condition["data"], p.seed,
                         size=lambda d: len(tok(d["text"], add_special_tokens=False)["input_ids"]))
    rounds = regime.needs_rounds(int(w["round"]))
    synthetic = [read_jsonl(f) for f in snakemake.input.synthetic]
    real = read_jsonl(snakemake.input.real) if regime.needs_real else []
    try:
        docs = regime.documents(synthetic, real)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    if not docs:
        raise ValueError(f"{where}: data regime {regime.name} left no training document")
    sources = composition(docs, dict(zip(rounds, synthetic)), real)
    log(f"regime {regime.name}: {len(docs)} documents {sources}, init {p.condition['init']}")
    cfg = p.training
    blocks = pack_blocks(tokenize_documents(tok, [d["text"] for d in docs]), cfg["block_size"], tok.eos_token_id)
    scratch = scratch_dir(snakemake.output[0])
    stats = train_causal_lm(model, blocks, cfg, p.seed, log=log, resume_dir=scratch)
    save_checkpoint(model, tok, snakemake.output[0], info={
        **stats, "documents": len(docs), "regime": regime.name, "sources": sources, "init": p.condition["init"]})
    discard_resume_state(scratch)
