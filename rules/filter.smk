include: "functions/filter.smk"


rule filter_corpus:
    input:
        unpack(filter_inputs),
    output:
        filtered=FILTERED,
        stats=FILTER_STATS,
    log:
        log_path("filter_corpus", ROUND_KEY),
    benchmark:
        benchmark_path("filter_corpus", ROUND_KEY)
    wildcard_constraints:
        round=LATER_ROUND,
    conda:
        "../envs/train.yaml"
    threads: job_threads("filter", 1)
    resources:
        **job_resources("filter", mem_mb=4000, runtime=60, cpus=1),
    params:
        filters=condition_part("filters"),
        seed=lambda wc: job_seed(wc, "filter"),
        trust_remote_code=filter_trust,
    script:
        "../scripts/filter_corpus.py"


# round 1 once per distinct generation and filter chain
use rule filter_corpus as filter_shared with:
    output:
        filtered=SHARED_FILTERED,
        stats=SHARED_FILTER_STATS,
    log:
        log_path("filter_corpus", SHARED_CHAIN_KEY),
    benchmark:
        benchmark_path("filter_corpus", SHARED_CHAIN_KEY)
    wildcard_constraints:
        round="1",
    params:
        filters=lambda wc: SHARED_CHAINS[wc.chain],
        seed=lambda wc: job_seed(wc, "filter"),
        trust_remote_code=filter_trust,


rule link_shared_round:
    input:
        unpack(shared_round),
    output:
        generated=GENERATED,
        filtered=FILTERED,
        stats=FILTER_STATS,
    log:
        log_path("link_shared_round", ROUND_KEY),
    wildcard_constraints:
        round="1",
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    script:
        "../scripts/link_shared.py"
