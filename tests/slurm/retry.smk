# A failing Slurm job retried and reported, without the pipeline: each job reads the memory Slurm
# granted it and fails below what it needs. Memory doubles per attempt, as in rules/common.smk, so
# fits_300 fails on attempt 1 (200 MB) and succeeds on attempt 2 (400 MB); fits_5000 never fits in
# 1 + 2 retries (200, 400, 800 MB) and is reported as failed.


rule all:
    input:
        "fits_300.txt",
        "fits_5000.txt",


rule fits:
    output:
        "fits_{need}.txt",
    log:
        "logs/fits_{need}.log",
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: 200 * 2 ** (attempt - 1),
        runtime=2,
    shell:
        # inside a job only a few SLURM_* variables survive the jobstep plugin; SLURM_JOB_ID is one
        """
        granted=$(scontrol show job -o "$SLURM_JOB_ID" | grep -o 'MinMemoryNode=[0-9]*' | cut -d= -f2)
        echo "attempt {resources.mem_mb} MB: Slurm granted $granted MB, need {wildcards.need} MB" >{log}
        test "$granted" -ge {wildcards.need}
        echo "$granted" >{output}
        """
