"""Step: train the byte-level BPE tokenizer of a pretrain-kind base model on the held-in split."""

from selftrain.io import atomic_directory, iter_jsonl
from selftrain.step import step
from selftrain.tokenizer import train_tokenizer

with step(snakemake, uses_torch=False) as log:
    texts = (d["text"] for d in iter_jsonl(snakemake.input.train))
    tok = train_tokenizer(texts, snakemake.params.tokenizer["vocab_size"])
    with atomic_directory(snakemake.output[0]) as tmp:
        tok.save_pretrained(tmp)
    log(f"vocabulary: {len(tok)} tokens")
