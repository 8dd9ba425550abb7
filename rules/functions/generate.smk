# Input function and params of rules generate and generate_shared (rules/generate.smk includes this file).
from selftrain.config import round1_generation

# the spec of each shared round-1 generation (GENERATION_OF), taken from any condition that has it
SHARED_GENERATIONS = {
    GENERATION_OF[c]: round1_generation(RESOLVED_CONDITIONS[c]) for c in CONDITIONS
}


def shared_part(key):
    """A params entry of a shared round-1 generation: its prompt or sampling."""
    return lambda wc: SHARED_GENERATIONS[wc.generation][key]


def generate_inputs(wc):
    """Round r-1's model, plus the documents the prompting strategy takes prompts from: real text, or
    (self_prefix after round 1) round r-1's own generated corpus. A shared round 1 reads the base model.
    """
    from selftrain.prompts import strategy_reads

    if "generation" in wc.keys():
        inputs = {"model": BASE_CHECKPOINT.format(model=wc.model)}
        prompt = SHARED_GENERATIONS[wc.generation]["prompt"]
    else:
        inputs = {"model": previous_checkpoint(wc)}
        prompt = condition(wc.condition)["prompt"]
    reads = strategy_reads(prompt, int(wc.round))
    if "real" in reads:
        inputs["real"] = TRAIN_JSONL
    if "previous" in reads:
        inputs["previous"] = GENERATED.format(
            model=wc.model,
            condition=wc.condition,
            seed=wc.seed,
            round=int(wc.round) - 1,
        )
    return inputs
