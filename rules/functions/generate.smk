# Input function and params of rules generate and generate_shared (rules/generate.smk includes this file).
from selftrain.config import round1_generation
from selftrain.prompts import strategy_reads

# the spec of each shared round-1 generation (GENERATION_OF), taken from any condition that has it
SHARED_GENERATIONS = {
    GENERATION_OF[c]: round1_generation(RESOLVED_CONDITIONS[c]) for c in CONDITIONS
}
# what each prompt reads (strategy_reads), found once at load: it checks the spec against the schema, which
# per job cost seconds of every dry run of the paper preset. Rule generate runs rounds 2+, generate_shared round 1.
LATER_READS = {
    c: strategy_reads(RESOLVED_CONDITIONS[c]["prompt"], 2) for c in CONDITIONS
}
SHARED_READS = {
    g: strategy_reads(s["prompt"], 1) for g, s in SHARED_GENERATIONS.items()
}


def shared_part(key):
    """A params entry of a shared round-1 generation: its prompt or sampling."""
    return lambda wc: SHARED_GENERATIONS[wc.generation][key]


def generator_checkpoint(wc):
    """The checkpoint that writes a round's corpus: a teacher's round-0 checkpoint in every round, else round
    r-1's model of the model being trained (a shared round 1: its base model)."""
    teacher = teacher_of(wc)
    if teacher:
        return BASE_CHECKPOINT.format(model=teacher)
    if "generation" in wc.keys():
        return BASE_CHECKPOINT.format(model=wc.model)
    return previous_checkpoint(wc)


def generate_inputs(wc):
    """The generator's checkpoint (generator_checkpoint), plus the documents the prompting strategy takes prompts
    from: real text, or (self_prefix after round 1) round r-1's own generated corpus."""
    inputs = {"model": generator_checkpoint(wc)}
    if "generation" in wc.keys():
        reads = SHARED_READS[wc.generation]
    else:
        reads = LATER_READS[wc.condition]
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


def by_generator(value_of):
    """A params entry that depends on the trained model and the teacher writing its corpus (None: none):
    value_of(model, teacher), a constant when every pair has the same value (Snakemake calls callables per job).
    """
    teachers = {None, *GENERATOR_OF.values()}
    values = {(m, t): value_of(m, t) for m in MODELS for t in teachers}
    first = next(iter(values.values()))
    if all(v == first for v in values.values()):
        return first
    return lambda wc: values[(wc.model, teacher_of(wc))]


def generation_settings(model, teacher):
    """A generate job's generation section: the trained model's, or for a teacher's corpus the teacher's (its
    backend and batch size run the teacher's weights) with the trained model's budget, tokens_per_round.
    """
    own = section(model, "generation")
    if teacher is None:
        return own
    return {
        **section(teacher, "generation"),
        "tokens_per_round": own["tokens_per_round"],
    }
