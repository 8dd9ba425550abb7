rule evaluate_base:
    input:
        unpack(eval_inputs),
    output:
        BASE_EVAL,
    params:
        evaluation=per_model(lambda m: section(m, "evaluation")),
        perplexity_sets=sorted(config["evaluation"]["perplexity_sets"]),
        local_tasks=per_model(local_tasks),
        corpora=list(BASE_CORPORA),
        identity=lambda wc: {"model": wc.model, "condition": None, "seed": None, "round": 0},
        seed=lambda wc: job_seed(wc, "evaluate"),
        trust_remote_code=per_model(trusts_remote_code),
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
        unpack(eval_inputs),
    output:
        ROUND_EVAL,
    params:
        evaluation=per_model(lambda m: section(m, "evaluation")),
        perplexity_sets=sorted(config["evaluation"]["perplexity_sets"]),
        local_tasks=per_model(local_tasks),
        corpora=list(ROUND_CORPORA),
        identity=lambda wc: {"model": wc.model, "condition": wc.condition, "seed": int(wc.seed), "round": int(wc.round)},
        seed=lambda wc: job_seed(wc, "evaluate"),
        trust_remote_code=per_model(trusts_remote_code),
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


rule build_task:
    input:
        heldout=HELDOUT_JSONL,
    output:
        TASK_JSONL,
    params:
        max_items=config["evaluation"]["downstream"]["max_items"],
        seed=config["seed"],
    log:
        log_path("build_task_{task}", "data"),
    benchmark:
        benchmark_path("build_task_{task}", "data")
    threads: 1
    resources:
        mem_mb=resource("data", "mem_mb", 4000),
        runtime=resource("data", "runtime", 60),
        cpus_per_task=resource("data", "cpus_per_task", 1),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/build_task.py"


rule prepare_perplexity_set:
    output:
        PERPLEXITY_JSONL,
    params:
        spec=lambda wc: config["evaluation"]["perplexity_sets"][wc.set],
    log:
        log_path("prepare_perplexity_set_{set}", "data"),
    benchmark:
        benchmark_path("prepare_perplexity_set_{set}", "data")
    threads: 1
    resources:
        mem_mb=resource("data", "mem_mb", 4000),
        runtime=resource("data", "runtime", 60),
        cpus_per_task=resource("data", "cpus_per_task", 1),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_perplexity_set.py"


rule tail_vocabulary:
    input:
        train=TRAIN_JSONL,
    output:
        TAIL_VOCABULARY,
    params:
        mass=config["evaluation"]["diversity"]["tail_mass"],
    log:
        log_path("tail_vocabulary", "data"),
    benchmark:
        benchmark_path("tail_vocabulary", "data")
    threads: 1
    resources:
        mem_mb=resource("data", "mem_mb", 4000),
        runtime=resource("data", "runtime", 60),
        cpus_per_task=resource("data", "cpus_per_task", 1),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/tail_vocabulary.py"
