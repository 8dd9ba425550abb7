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
        condition=OWN_CONDITION,
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


# a teacher's corpus of a round, once for every student and condition that reads it (config.taught_key): its seed
# and params name no student and no condition
use rule generate as generate_taught with:
    output:
        TAUGHT_GENERATED,
    log:
        log_path("generate", TAUGHT_KEY),
    benchmark:
        benchmark_path("generate", TAUGHT_KEY)
    wildcard_constraints:
        round=r"[1-9]\d*",
    params:
        prompt=taught_part("prompt"),
        sampling=taught_part("sampling"),
        generation=taught_settings,
        seed=lambda wc: job_seed(wc, "generate"),
        trust_remote_code=lambda wc: trusts_remote_code(wc.teacher),


# a later round's corpus of a condition with a teacher: a link to the teacher's corpus (round 1: link_shared_round)
rule link_taught_round:
    input:
        unpack(taught_round),
    output:
        generated=GENERATED,
    log:
        log_path("link_taught_round", ROUND_KEY),
    wildcard_constraints:
        round=LATER_ROUND,
        condition=TAUGHT_CONDITION,
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    script:
        "../scripts/link_shared.py"
