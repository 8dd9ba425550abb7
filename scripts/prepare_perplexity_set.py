"""Step: gather an out-of-domain real text set into results/data/perplexity/<set>.jsonl."""

from selftrain.corpus import load_documents
from selftrain.io import write_jsonl
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    docs = load_documents(snakemake.params.spec)
    write_jsonl(snakemake.output[0], docs)
    log(f"{len(docs)} documents")
