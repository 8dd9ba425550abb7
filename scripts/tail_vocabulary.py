"""Step: the real vocabulary's tail (rarest held-in word types up to a share of the tokens) for tail loss."""

from collections import Counter

from selftrain.diversity import tail_vocabulary, words
from selftrain.io import atomic_write_json, iter_jsonl
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    counts = Counter(w for d in iter_jsonl(snakemake.input.train) for w in words(d["text"]))
    tail = tail_vocabulary(counts, snakemake.params.mass)
    atomic_write_json(snakemake.output[0], {"mass": snakemake.params.mass, "types": len(counts),
                                            "tokens": sum(counts.values()), "words": tail})
    log(f"{len(tail)} of {len(counts)} word types in the tail")
