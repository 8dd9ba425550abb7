include: "functions/train.smk"


rule train_round:
    input:
        unpack(train_inputs),
    output:
        checkpoint_output(ROUND_CHECKPOINT),
    log:
        log_path("train_round", ROUND_KEY),
    benchmark:
        benchmark_path("train_round", ROUND_KEY)
    conda:
        "../envs/train.yaml"
    threads: job_threads("train", 2)
    resources:
        **job_resources("train", mem_mb=8000, runtime=240, cpus=2),
    params:
        data=train_data,
        init=condition_part("init"),
        training=per_model(lambda m: section(m, "training")),
        seed=lambda wc: job_seed(wc, "train"),
        trust_remote_code=per_model(trusts_remote_code),
    script:
        "../scripts/train_round.py"
