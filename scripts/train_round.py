"""Step: continual pre-training of the model of round r-1 on the documents of the data regime."""

from selftrain.io import read_jsonl
from selftrain.modeling import load_checkpoint, save_checkpoint, trusts_remote_code
from selftrain.regimes import make_regime
from selftrain.step import step
from selftrain.training import discard_resume_state, pack_blocks, scratch_dir, tokenize_documents, train_causal_lm

p = snakemake.params
with step(snakemake) as log:
    model, tok = load_checkpoint(snakemake.input.init, trust_remote_code=trusts_remote_code(snakemake))
    regime = make_regime(p.condition["data"], p.seed)
    synthetic = [read_jsonl(f) for f in snakemake.input.synthetic]
    real = read_jsonl(snakemake.input.real) if regime.needs_real else []
    docs = regime.documents(synthetic, real)
    log(f"regime {regime.name}: {len(docs)} documents")
    cfg = p.training
    blocks = pack_blocks(tokenize_documents(tok, [d["text"] for d in docs]), cfg["block_size"], tok.eos_token_id)
    scratch = scratch_dir(snakemake.output[0])
    stats = train_causal_lm(model, blocks, cfg, p.seed, log=log, resume_dir=scratch)
    save_checkpoint(model, tok, snakemake.output[0], info={**stats, "documents": len(docs), "regime": regime.name})
    discard_resume_state(scratch)
