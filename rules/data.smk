rule prepare_corpus:
    output:
        train=TRAIN_JSONL,
        heldout=HELDOUT_JSONL,
        stats=CORPUS_STATS,
    params:
        corpus=config["corpus"],
        seed=config["seed"],
    log:
        log_path("prepare_corpus", "data"),
    benchmark:
        benchmark_path("prepare_corpus", "data")
    threads: 1
    resources:
        mem_mb=resource("data", "mem_mb", 4000),
        runtime=resource("data", "runtime", 60),
        cpus_per_task=resource("data", "cpus_per_task", 1),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_corpus.py"


rule train_tokenizer:
    input:
        train=TRAIN_JSONL,
    output:
        directory(TOKENIZER),
    params:
        tokenizer=lambda wc: config["models"][wc.model]["base"]["tokenizer"],
    log:
        log_path("train_tokenizer", "{model}"),
    benchmark:
        benchmark_path("train_tokenizer", "{model}")
    threads: 2
    resources:
        mem_mb=resource("data", "mem_mb", 4000),
        runtime=resource("data", "runtime", 60),
        cpus_per_task=resource("data", "cpus_per_task", 2),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/train_tokenizer.py"
