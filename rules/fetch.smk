# The one stage that reaches the hub: a localrule, so it runs where snakemake was started (the login node,
# which has the network), before any compute job. Every hub model, the hub corpus and the data of every
# named lm-eval task go into config key hub_cache; compute jobs then read that cache offline.
localrules:
    fetch_hub,


rule fetch_hub:
    output:
        HUB_FETCHED,
    log:
        log_path("fetch_hub", "data"),
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        plan=FETCH_PLAN,
    script:
        "../scripts/fetch_hub.py"
