rule evaluate_base:
    input:
        model=BASE_CHECKPOINT,
        heldout=HELDOUT_JSONL,
    output:
        BASE_EVAL,
    params:
        evaluation=lambda wc: model_section(config, wc.model, "evaluation"),
        identity=lambda wc: {"model": wc.model, "condition": None, "seed": None, "round": 0},
        seed=lambda wc: job_seed(wc, "evaluate"),
    log:
        log_path("evaluate", BASE_KEY),
    benchmark:
        benchmark_path("evaluate", BASE_KEY)
    threads: 2
    resources:
        mem_mb=resource("evaluate", "mem_mb", 8000),
        runtime=resource("evaluate", "runtime", 120),
        cpus_per_task=resource("evaluate", "cpus_per_task", 2),
        gpu=resource("evaluate", "gpus", 0),
    conda:
        "../envs/evaluate.yaml"
    script:
        "../scripts/evaluate.py"


rule evaluate_round:
    input:
        model=ROUND_CHECKPOINT,
        heldout=HELDOUT_JSONL,
    output:
        ROUND_EVAL,
    params:
        evaluation=lambda wc: model_section(config, wc.model, "evaluation"),
        identity=lambda wc: {"model": wc.model, "condition": wc.condition, "seed": int(wc.seed), "round": int(wc.round)},
        seed=lambda wc: job_seed(wc, "evaluate"),
    log:
        log_path("evaluate", ROUND_KEY),
    benchmark:
        benchmark_path("evaluate", ROUND_KEY)
    threads: 2
    resources:
        mem_mb=resource("evaluate", "mem_mb", 8000),
        runtime=resource("evaluate", "runtime", 120),
        cpus_per_task=resource("evaluate", "cpus_per_task", 2),
        gpu=resource("evaluate", "gpus", 0),
    conda:
        "../envs/evaluate.yaml"
    script:
        "../scripts/evaluate.py"
