"""Step (localrule, where the network is): download every hub repository the config needs into hub_cache and
record the commit each revision resolved to."""

from selftrain.hub import fetch
from selftrain.io import atomic_write_json
from selftrain.step import step

with step(snakemake, offline=False, uses_torch=False) as log:
    record = fetch(snakemake.params.plan, snakemake.config["hub_cache"], log=log)
    log.facts["resolved"] = {m["repo"]: m["commit"] for m in record["models"] + [record["corpus"] or {}] if m}
    atomic_write_json(snakemake.output[0], record)
