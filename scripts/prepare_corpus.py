"""Step: load the real corpus named by the config and split it into held-in and held-out documents."""

from selftrain.corpus import load_documents, split_documents
from selftrain.io import atomic_write_json, write_jsonl
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    spec = snakemake.params.corpus
    docs = load_documents(spec)
    train, heldout = split_documents(docs, spec["heldout_fraction"], snakemake.params.seed)
    write_jsonl(snakemake.output.train, train)
    write_jsonl(snakemake.output.heldout, heldout)
    stats = {
        "source": spec["source"],
        "documents": {"train": len(train), "heldout": len(heldout)},
        "characters": {"train": sum(len(d["text"]) for d in train), "heldout": sum(len(d["text"]) for d in heldout)},
    }
    atomic_write_json(snakemake.output.stats, stats)
    log(stats)
