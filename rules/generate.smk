include: "functions/generate.smk"


rule generate:
    input:
        unpack(generate_inputs),
    output:
        GENERATED,
    log:
        log_path("generate", ROUND_KEY),
    benchmark:
        benchmark_path("generate", ROUND_KEY)
    wildcard_constraints:
        round=LATER_ROUND,
    conda:
        "../envs/generate.yaml"
    threads: job_threads("generate", 2)
    resources:
        **job_resources("generate", mem_mb=8000, runtime=120, cpus=2),
    params:
        prompt=condition_part("prompt"),
        sampling=condition_part("sampling"),
        generation=by_generator(generation_settings),
        seed=lambda wc: job_seed(wc, "generate"),
        trust_remote_code=by_generator(lambda m, t: trusts_remote_code(t or m)),
    script:
        "../scripts/generate.py"


# round 1 once per distinct generation (prompt + sampling): its seed and params name no condition
use rule generate as generate_shared with:
    output:
        SHARED_GENERATED,
    log:
        log_path("generate", SHARED_KEY),
    benchmark:
        benchmark_path("generate", SHARED_KEY)
    wildcard_constraints:
        round="1",
    params:
        prompt=shared_part("prompt"),
        sampling=shared_part("sampling"),
        generation=by_generator(generation_settings),
        seed=lambda wc: job_seed(wc, "generate"),
        trust_remote_code=by_generator(lambda m, t: trusts_remote_code(t or m)),
