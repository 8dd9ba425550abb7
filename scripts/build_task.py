"""Step: build one local downstream task's items (results/data/tasks/<task>.jsonl) from the held-out split."""

from selftrain.downstream import build_task_items
from selftrain.io import read_jsonl, write_jsonl
from selftrain.step import step

with step(snakemake, uses_torch=False) as log:
    items = build_task_items(snakemake.wildcards.task, read_jsonl(snakemake.input.heldout),
                             snakemake.params.max_items, snakemake.params.seed)
    write_jsonl(snakemake.output[0], items)
    log(f"{len(items)} items")
