rule filter_corpus:
    input:
        unpack(filter_inputs),
    output:
        filtered=FILTERED,
        stats=FILTER_STATS,
    params:
        condition=lambda wc: condition(wc.condition),
        seed=lambda wc: job_seed(wc, "filter"),
    log:
        log_path("filter_corpus", ROUND_KEY),
    benchmark:
        benchmark_path("filter_corpus", ROUND_KEY)
    threads: job_threads("filter", 1)
    resources:
        **job_resources("filter", mem_mb=4000, runtime=60, cpus=1),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/filter_corpus.py"
