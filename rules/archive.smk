rule manifest:
    input:
        FIGURE_PDF,
        FIGURE_PNG,
        READING,
    output:
        MANIFEST,
    log:
        log_path("manifest"),
    benchmark:
        benchmark_path("manifest")
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: job_threads("report", 1)
    resources:
        **job_resources("report", mem_mb=2000, runtime=30, cpus=1),
    script:
        "../scripts/manifest.py"


rule archive:
    input:
        MANIFEST,
    output:
        ARCHIVE,
    log:
        log_path("archive", "archive/{name}"),
    benchmark:
        benchmark_path("archive", "archive/{name}")
    conda:
        "../envs/report.yaml"
    threads: job_threads("report", 1)
    resources:
        **job_resources("report", mem_mb=2000, runtime=30, cpus=1),
    params:
        archive=config["archive"],
        config=config,
    script:
        "../scripts/archive.py"
