"""Step: the round-0 model: pre-train a tiny Olmo2 here, copy a local checkpoint, or fetch a hub snapshot."""

import shutil

from selftrain.io import atomic_directory, read_jsonl
from selftrain.modeling import build_olmo2, load_checkpoint, save_checkpoint
from selftrain.step import step
from selftrain.tokenizer import load_tokenizer
from selftrain.training import (discard_resume_state, pack_blocks, scratch_dir, scratch_root, tokenize_documents,
                               train_causal_lm)

base = snakemake.params.base
with step(snakemake, offline=base["kind"] != "hub") as log:
    out = snakemake.output[0]
    if base["kind"] == "pretrain":
        tok = load_tokenizer(snakemake.input.tokenizer)
        model = build_olmo2(base["architecture"], tok, snakemake.params.seed)
        log(f"Olmo2ForCausalLM with {sum(p.numel() for p in model.parameters()):,} parameters")
        texts = [d["text"] for d in read_jsonl(snakemake.input.train)]
        # the resume cadence from the config, not params: changing it must not rebuild the base model
        save_every = snakemake.config["models"][snakemake.wildcards["model"]]["base"]["training"]["save_every"]
        cfg = {**base["training"], "save_every": save_every}
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
    else:  # hub, on clusters: a pinned revision, safetensors only
        from huggingface_hub import snapshot_download

        with atomic_directory(out) as tmp:
            snapshot_download(base["hub_id"], revision=base["revision"], local_dir=tmp,
                              allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
        log(f"downloaded {base['hub_id']}@{base['revision']}")
