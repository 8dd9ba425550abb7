"""Step: the round-0 model: pre-train a tiny Olmo2 here, copy a local checkpoint, or fetch a hub snapshot."""

import shutil

from selftrain.hub import copy_model_snapshot
from selftrain.io import atomic_directory, read_jsonl
from selftrain.modeling import build_olmo2, load_checkpoint, save_checkpoint
from selftrain.step import step
from selftrain.tokenizer import load_tokenizer
from selftrain.training import (discard_resume_state, pack_blocks, scratch_dir, scratch_root, tokenize_documents,
                               train_causal_lm)

base = snakemake.params.base
with step(snakemake) as log:
    out = snakemake.output[0]
    if base["kind"] == "pretrain":
        tok = load_tokenizer(snakemake.input.tokenizer)
        model = build_olmo2(base["architecture"], tok, snakemake.params.seed)
        log(f"Olmo2ForCausalLM with {sum(p.numel() for p in model.parameters()):,} parameters")
        texts = [d["text"] for d in read_jsonl(snakemake.input.train)]
        cfg = base["training"]
        blocks = pack_blocks(tokenize_documents(tok, texts), cfg["block_size"], tok.eos_token_id)
        # read from the config, not params: moving the scratch must not make Snakemake rebuild a checkpoint
        root = scratch_root(snakemake.config.get("scratch_dir"))
        scratch = log.facts["scratch_dir"] = scratch_dir(out, root)
        stats = train_causal_lm(model, blocks, cfg, snakemake.params.seed, log=log, resume_dir=scratch)
        save_checkpoint(model, tok, out, info=stats)
        discard_resume_state(scratch, root)
    elif base["kind"] == "local":
        model, tok = load_checkpoint(base["path"], trust_remote_code=base["trust_remote_code"])  # refuses pickled weights
        save_checkpoint(model, tok, out, info={"source": base["path"]})
    else:  # hub: the pinned revision the fetch stage put into hub_cache, copied offline (safetensors only)
        with atomic_directory(out) as tmp:
            src = copy_model_snapshot(base["hub_id"], base["revision"], snakemake.config["hub_cache"], tmp)
        log.facts["hub_snapshot"] = str(src)
        log(f"copied {base['hub_id']}@{base['revision']} from {src}")
