include: "functions/evaluate.smk"


# One evaluation rule for every checkpoint: round r's, and (as evaluate_base) the base model's of round 0.
rule evaluate_round:
    input:
        unpack(eval_inputs),
    output:
        ROUND_EVAL,
    log:
        log_path("evaluate", ROUND_KEY),
    benchmark:
        benchmark_path("evaluate", ROUND_KEY)
    conda:
        "../envs/evaluate.yaml"
    threads: job_threads("evaluate", 2)
    resources:
        **job_resources("evaluate", mem_mb=8000, runtime=120, cpus=2),
    params:
        evaluation=per_model(lambda m: section(m, "evaluation")),
        perplexity_sets=sorted(config["evaluation"]["perplexity_sets"]),
        local_tasks=per_model(local_tasks),
        corpora=lambda wc: list(eval_corpora(wc)),
        identity=lambda wc: {
            "model": wc.model,
            "condition": wc.condition,
            "seed": int(wc.seed),
            "round": int(wc.round),
        },
        seed=lambda wc: job_seed(wc, "evaluate"),
        trust_remote_code=per_model(trusts_remote_code),
    script:
        "../scripts/evaluate.py"


use rule evaluate_round as evaluate_base with:
    output:
        BASE_EVAL,
    log:
        log_path("evaluate", BASE_KEY),
    benchmark:
        benchmark_path("evaluate", BASE_KEY)
    params:
        corpora=list(BASE_CORPORA),
        identity=lambda wc: {
            "model": wc.model,
            "condition": None,
            "seed": None,
            "round": 0,
        },
