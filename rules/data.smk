rule prepare_corpus:
    input:
        **(FETCHED if config["corpus"]["source"] == "hf" else {}),
    output:
        train=TRAIN_JSONL,
        heldout=HELDOUT_JSONL,
        stats=CORPUS_STATS,
    log:
        log_path("prepare_corpus", "data"),
    benchmark:
        benchmark_path("prepare_corpus", "data")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data", 1)
    resources:
        **job_resources("data", mem_mb=4000, runtime=60, cpus=1),
    params:
        corpus=(
            dict(config["corpus"], hub_cache=config["hub_cache"])
            if config["corpus"]["source"] == "hf"
            else config["corpus"]
        ),
        seed=config["seed"],
    script:
        "../scripts/prepare_corpus.py"


rule train_tokenizer:
    input:
        train=TRAIN_JSONL,
    output:
        directory(TOKENIZER),
    log:
        log_path("train_tokenizer", "{model}"),
    benchmark:
        benchmark_path("train_tokenizer", "{model}")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data", 2)
    resources:
        **job_resources("data", mem_mb=4000, runtime=60, cpus=2),
    params:
        tokenizer=lambda wc: config["models"][wc.model]["base"]["tokenizer"],
    script:
        "../scripts/train_tokenizer.py"


rule build_task:
    input:
        heldout=HELDOUT_JSONL,
    output:
        TASK_JSONL,
    log:
        log_path("build_task_{task}", "data"),
    benchmark:
        benchmark_path("build_task_{task}", "data")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data", 1)
    resources:
        **job_resources("data", mem_mb=4000, runtime=60, cpus=1),
    params:
        max_items=config["evaluation"]["downstream"]["max_items"],
        seed=config["seed"],
    script:
        "../scripts/build_task.py"


rule prepare_perplexity_set:
    output:
        PERPLEXITY_JSONL,
    log:
        log_path("prepare_perplexity_set_{set}", "data"),
    benchmark:
        benchmark_path("prepare_perplexity_set_{set}", "data")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data", 1)
    resources:
        **job_resources("data", mem_mb=4000, runtime=60, cpus=1),
    params:
        spec=lambda wc: config["evaluation"]["perplexity_sets"][wc.set],
    script:
        "../scripts/prepare_perplexity_set.py"


rule tail_vocabulary:
    input:
        train=TRAIN_JSONL,
    output:
        TAIL_VOCABULARY,
    log:
        log_path("tail_vocabulary", "data"),
    benchmark:
        benchmark_path("tail_vocabulary", "data")
    conda:
        "../envs/data.yaml"
    threads: job_threads("data", 1)
    resources:
        **job_resources("data", mem_mb=4000, runtime=60, cpus=1),
    params:
        mass=config["evaluation"]["diversity"]["tail_mass"],
    script:
        "../scripts/tail_vocabulary.py"
