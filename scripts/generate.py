"""Step: the model of round r-1 writes round r's synthetic corpus with the condition's prompting strategy."""

from selftrain.config import sharing_conditions, taught_branches
from selftrain.generation import (generate_corpus, hf_sampler, select_backend, vllm_device, vllm_llm,
                                  vllm_sampler)
from selftrain.io import read_jsonl, write_jsonl
from selftrain.modeling import inference_device, load_checkpoint
from selftrain.prompts import make_strategy, strategy_for_round, strategy_source
from selftrain.provenance import loaded_weights
from selftrain.resources import job_gpus
from selftrain.step import step
from selftrain.tokenizer import load_tokenizer

# vLLM spawns its engine core, and the spawned process re-runs this file as __mp_main__: only the
# process Snakemake started may run the step
if __name__ == "__main__":
    p, w = snakemake.params, snakemake.wildcards
    round_ = int(w["round"])
    with step(snakemake) as log:
        # a shared round 1 names the conditions that share it, a teacher's corpus the student/condition branches that
        # read it (from the config, not params: see sharing_conditions)
        if "taught" in w.keys():
            names, what = taught_branches(snakemake.config, w["taught"], round_), ("branch", "branches")
        else:
            names = [w["condition"]] if "condition" in w.keys() else sharing_conditions(
                snakemake.config, w["generation"], w["chain"] if "chain" in w.keys() else None)
            what = ("condition", "conditions")
        owner = f"{what[len(names) > 1]} {', '.join(names)}"
        where = f"{owner} seed {w['seed']} round {round_}"
        backend = select_backend(p.generation["backend"])
        sampling = p.sampling
        remote = p.trust_remote_code
        if backend == "vllm":
            tok = load_tokenizer(snakemake.input.model)
            gpus = max(1, job_gpus(snakemake))  # vLLM on the GPU path: at least the one it runs on
            llm = vllm_llm(snakemake.input.model, p.seed, gpus, trust_remote_code=remote)
            sample, device, loaded = vllm_sampler(llm, sampling, p.seed), vllm_device(), llm.model_config.model
        else:
            # on a GPU job without vLLM, transformers generates on the GPU (it did on the CPU before)
            model, tok = load_checkpoint(snakemake.input.model, device=inference_device(), trust_remote_code=remote)
            sample, device, loaded = hf_sampler(model, tok, sampling, p.seed), str(model.device), model.name_or_path
        log(f"generation backend: {backend} on {device}, weights loaded from {loaded}")
        # the weights the engine read, as it reports them: the teacher test checks these, not the declared inputs
        log.facts.update(generation_backend=backend, generation_device=device, weights=loaded_weights(loaded))
        spec = strategy_for_round(p.prompt, round_)
        source = strategy_source(p.prompt, round_)
        docs = read_jsonl(snakemake.input[source]) if source else []
        try:
            strategy = make_strategy(spec, tok, docs, p.seed)
            log(f"prompt strategy {strategy.name} ({len(docs)} source documents)")
            records = generate_corpus(
                sample, tok, strategy, budget=p.generation["tokens_per_round"], sampling=sampling,
                batch_size=p.generation["batch_size"], id_prefix=f"round{round_}", log=log,
            )
        except (ValueError, RuntimeError) as e:
            raise RuntimeError(f"{where}: {e}") from None
        write_jsonl(snakemake.output[0], records)
