rule filter_corpus:
    input:
        unpack(filter_inputs),
    output:
        filtered=FILTERED,
        stats=FILTER_STATS,
    params:
        filters=condition_part("filters"),
        seed=lambda wc: job_seed(wc, "filter"),
        trust_remote_code=per_model(trusts_remote_code),
    log:
        log_path("filter_corpus", ROUND_KEY),
    benchmark:
        benchmark_path("filter_corpus", ROUND_KEY)
    threads: 1
    resources:
        mem_mb=resource("filter", "mem_mb", 4000),
        runtime=resource("filter", "runtime", 60),
        cpus_per_task=resource("filter", "cpus_per_task", 1),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/filter_corpus.py"
