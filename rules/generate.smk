rule generate:
    input:
        unpack(generate_inputs),
    output:
        GENERATED,
    params:
        condition=lambda wc: condition(wc.condition),
        generation=per_model(lambda m: section(m, "generation")),
        seed=lambda wc: job_seed(wc, "generate"),
    log:
        log_path("generate", ROUND_KEY),
    benchmark:
        benchmark_path("generate", ROUND_KEY)
    threads: job_threads("generate", 2)
    resources:
        **job_resources("generate", mem_mb=8000, runtime=120, cpus=2),
    conda:
        "../envs/generate.yaml"
    script:
        "../scripts/generate.py"
