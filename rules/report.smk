from selftrain.regimes import generates


# Report stage: seconds of work each (tables, a figure, a text from records), so localrules: on a cluster they run
# where snakemake runs instead of waiting in the queue for a node (rules/archive.smk's manifest too).
rule aggregate:
    input:
        base=expand(BASE_EVAL, model=MODELS),
        rounds=[
            ROUND_EVAL.format(model=m, condition=c, seed=s, round=r)
            for m, c in BRANCHES
            for s in SEEDS
            for r in range(1, ROUNDS + 1)
        ],
    output:
        summary=report(
            SUMMARY, caption="../report/summary.rst", category="Summary tables"
        ),
        intervals=report(
            SUMMARY_CI, caption="../report/summary_ci.rst", category="Summary tables"
        ),
        verdict=report(
            VERDICT, caption="../report/verdict.rst", category="Summary tables"
        ),
        contrasts=report(
            CONTRASTS, caption="../report/contrasts.rst", category="Summary tables"
        ),
    log:
        log_path("aggregate"),
    benchmark:
        benchmark_path("aggregate")
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: job_threads("report", 1)
    resources:
        **job_resources("report", mem_mb=2000, runtime=30, cpus=1),
    params:
        models=MODELS,
        branches=[list(b) for b in BRANCHES],
        seeds=SEEDS,
        # who writes each condition's corpus: the model itself, a teacher, or nothing (the real-data control)
        generators={
            c: (
                (GENERATOR_OF[c] or "self")
                if generates(RESOLVED_CONDITIONS[c]["data"])
                else "none"
            )
            for c in CONDITIONS
        },
        max_flip_probability=config["verdict"]["max_flip_probability"],
    script:
        "../scripts/aggregate.py"


rule plot:
    input:
        summary=SUMMARY,
        verdict=VERDICT,
        contrasts=CONTRASTS,
    output:
        pdf=report(FIGURE_PDF, caption="../report/collapse.rst", category="Figures"),
        png=report(FIGURE_PNG, caption="../report/collapse.rst", category="Figures"),
    log:
        log_path("plot"),
    benchmark:
        benchmark_path("plot")
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: job_threads("report", 1)
    resources:
        **job_resources("report", mem_mb=2000, runtime=30, cpus=1),
    script:
        "../scripts/plot.py"


rule reading:
    input:
        verdict=VERDICT,
        contrasts=CONTRASTS,
        summary=SUMMARY,
    output:
        report(READING, caption="../report/reading.rst", category="Summary tables"),
    log:
        log_path("reading"),
    benchmark:
        benchmark_path("reading")
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: job_threads("report", 1)
    resources:
        **job_resources("report", mem_mb=2000, runtime=30, cpus=1),
    script:
        "../scripts/reading.py"
