include: "functions/base.smk"


rule base_model:
    input:
        unpack(base_inputs),
    output:
        checkpoint_output(BASE_CHECKPOINT),
    log:
        log_path("base_model", BASE_KEY),
    benchmark:
        benchmark_path("base_model", BASE_KEY)
    # every round of a model waits for its base (a teacher's: every round of its conditions): scheduled first,
    # before round jobs of another model take a core it needs
    priority: 10
    conda:
        "../envs/train.yaml"
    threads: job_threads("base", 2)
    resources:
        **job_resources("base", mem_mb=8000, runtime=240, cpus=2),
    params:
        base=lambda wc: base_spec(wc.model),
        seed=lambda wc: job_seed(wc, "base"),
    script:
        "../scripts/base_model.py"
