rule base_model:
    input:
        unpack(base_inputs),
    output:
        checkpoint_output(BASE_CHECKPOINT),
    params:
        base=lambda wc: base_spec(wc.model),
        seed=lambda wc: job_seed(wc, "base"),
    log:
        log_path("base_model", BASE_KEY),
    benchmark:
        benchmark_path("base_model", BASE_KEY)
    threads: 2
    resources:
        mem_mb=resource("base", "mem_mb", 8000),
        runtime=resource("base", "runtime", 240),
        cpus_per_task=resource("base", "cpus_per_task", 2),
        gpu=resource("base", "gpus", 0),
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/base_model.py"
