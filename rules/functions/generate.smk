# Input function and params of rules generate and generate_shared (rules/generate.smk includes this file).
from selftrain.config import round1_generation, round_generation
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
# each teacher's corpus (TAUGHT_OF): its generation slice and budget, what its prompt reads (a key of a later round
# is a self_prefix spec, which reads round r-1's corpus), and the key of that corpus of round r-1
TAUGHT = {}
TAUGHT_PREVIOUS = {}
for (m, c), keys in TAUGHT_OF.items():
    for r, key in keys.items():
        TAUGHT[key] = {
            **round_generation(RESOLVED_CONDITIONS[c], r),
            "tokens_per_round": section(m, "generation")["tokens_per_round"],
        }
        if r > 1:
            TAUGHT_PREVIOUS[key, r] = keys[r - 1]
TAUGHT_READS = {key: strategy_reads(t["prompt"], 2) for key, t in TAUGHT.items()}
# the conditions whose later rounds their own model generates, and those a teacher's corpus links to
OWN_CONDITION = one_of(c for c in CONDITIONS if not GENERATOR_OF[c])
TAUGHT_CONDITION = one_of(c for c in CONDITIONS if GENERATOR_OF[c])


def taught_part(key):
    """A params entry of a teacher's corpus: its prompt or sampling."""
    return lambda wc: TAUGHT[wc.taught][key]


def taught_settings(wc):
    """A teacher's corpus's generation section: the teacher's, to the budget of its key."""
    return {
        **section(wc.teacher, "generation"),
        "tokens_per_round": TAUGHT[wc.taught]["tokens_per_round"],
    }


def taught_round(wc):
    """A student's corpus of a round after the first, with a teacher: the teacher's corpus it links to."""
    return {"generated": taught_corpus(wc.model, wc.condition, wc.seed, wc.round)}


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
    from: real text, or (self_prefix after round 1) round r-1's own generated corpus (a teacher's: its own).
    """
    inputs = {"model": generator_checkpoint(wc)}
    if "taught" in wc.keys():
        reads = TAUGHT_READS[wc.taught]
    elif "generation" in wc.keys():
        reads = SHARED_READS[wc.generation]
    else:
        reads = LATER_READS[wc.condition]
    if "real" in reads:
        inputs["real"] = TRAIN_JSONL
    if "previous" in reads and "taught" in wc.keys():
        inputs["previous"] = TAUGHT_GENERATED.format(
            teacher=wc.teacher,
            seed=wc.seed,
            round=int(wc.round) - 1,
            taught=TAUGHT_PREVIOUS[wc.taught, int(wc.round)],
        )
    elif "previous" in reads:
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
