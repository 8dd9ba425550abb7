"""Step: a condition's round-1 corpora as relative links to the shared ones (same generation and filters)."""

import os

from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    for name in ("generated", "filtered", "stats"):
        target, link = snakemake.input[name], snakemake.output[name]
        relative = os.path.relpath(target, os.path.dirname(link))
        # atomic: a link under a temporary name, renamed over the target path
        tmp = f"{link}.tmp{os.getpid()}"
        os.symlink(relative, tmp)
        os.replace(tmp, link)
        log(f"{link} -> {relative}")
