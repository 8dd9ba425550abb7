rule train_round:
    input:
        unpack(train_inputs),
    output:
        checkpoint_output(ROUND_CHECKPOINT),
    params:
        data=condition_part("data"),
        init=condition_part("init"),
        training=per_model(lambda m: section(m, "training")),
        seed=lambda wc: job_seed(wc, "train"),
        trust_remote_code=per_model(trusts_remote_code),
    log:
        log_path("train_round", ROUND_KEY),
    benchmark:
        benchmark_path("train_round", ROUND_KEY)
    threads: 2
    resources:
        mem_mb=resource("train", "mem_mb", 8000),
        runtime=resource("train", "runtime", 240),
        cpus_per_task=resource("train", "cpus_per_task", 2),
        gpu=resource("train", "gpus", 0),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_round.py"
