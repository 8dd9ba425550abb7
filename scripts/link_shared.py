"""Step: a condition's corpora as relative links to the shared ones: round 1's (same generation and filters), or a
teacher's corpus of a later round (the same for every student that reads it)."""

import os

from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    for name in snakemake.output.keys():
        target, link = snakemake.input[name], snakemake.output[name]
        relative = os.path.relpath(target, os.path.dirname(link))
        # atomic: a link under a temporary name, renamed over the target path
        tmp = f"{link}.tmp{os.getpid()}"
        os.symlink(relative, tmp)
        os.replace(tmp, link)
        log(f"{link} -> {relative}")
