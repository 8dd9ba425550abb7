rule aggregate:
    input:
        base=expand(BASE_EVAL, model=MODELS),
        rounds=all_round_evals(),
    output:
        SUMMARY,
    params:
        models=MODELS,
        conditions=CONDITIONS,
        seeds=SEEDS,
    log:
        log_path("aggregate"),
    benchmark:
        benchmark_path("aggregate")
    threads: 1
    resources:
        mem_mb=resource("report", "mem_mb", 2000),
        runtime=resource("report", "runtime", 30),
        cpus_per_task=resource("report", "cpus_per_task", 1),
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/aggregate.py"


rule plot:
    input:
        SUMMARY,
    output:
        pdf=FIGURE_PDF,
        png=FIGURE_PNG,
    log:
        log_path("plot"),
    benchmark:
        benchmark_path("plot")
    threads: 1
    resources:
        mem_mb=resource("report", "mem_mb", 2000),
        runtime=resource("report", "runtime", 30),
        cpus_per_task=resource("report", "cpus_per_task", 1),
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/plot.py"
