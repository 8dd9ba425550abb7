# Input functions and params of rules filter_corpus, filter_shared and link_shared_round (rules/filter.smk
# includes this file).

from selftrain.filters import filter_needs

# the filter chain of each shared round-1 folder (CHAIN_OF), taken from any condition that has it
SHARED_CHAINS = {CHAIN_OF[c]: RESOLVED_CONDITIONS[c]["filters"] for c in CONDITIONS}
# what each chain reads (filter_needs), found once at load: it checks every spec against the schema
NEEDS_OF = {c: filter_needs(RESOLVED_CONDITIONS[c]["filters"]) for c in CONDITIONS}
SHARED_NEEDS = {chain: filter_needs(f) for chain, f in SHARED_CHAINS.items()}


def shared_round(wc):
    """The shared round-1 corpora a condition's round-1 paths link to."""
    key = dict(
        model=wc.model,
        seed=wc.seed,
        round=wc.round,
        generation=GENERATION_OF[wc.condition],
        chain=CHAIN_OF[wc.condition],
    )
    return {
        "generated": shared_generated(
            wc.model, wc.seed, wc.round, GENERATION_OF[wc.condition]
        ),
        "filtered": SHARED_FILTERED.format(**key),
        "stats": SHARED_FILTER_STATS.format(**key),
    }


def filter_inputs(wc):
    """The generated corpus, round r-1's model and what the condition's filters read besides: the base
    model, real text, round 1's generated corpus (the detector's machine examples). One function, not
    one per input: Snakemake's cost per job grows with the callables it evaluates."""
    if "chain" in wc.keys():  # a shared round 1: the base model generated it
        generated = shared_generated(wc.model, wc.seed, wc.round, wc.generation)
        needs, reference, model = (
            SHARED_NEEDS[wc.chain],
            generated,
            BASE_CHECKPOINT.format(model=wc.model),
        )
    else:
        key = dict(model=wc.model, condition=wc.condition, seed=wc.seed, round=wc.round)
        generated, needs, model = (
            GENERATED.format(**key),
            NEEDS_OF[wc.condition],
            previous_checkpoint(wc),
        )
        reference = GENERATED.format(**{**key, "round": 1})
    paths = {
        "base": BASE_CHECKPOINT.format(model=wc.model),
        "real": TRAIN_JSONL,
        "reference": reference,
        # an external scorer's round-0 checkpoint: it judges, so it is an input (and in the record)
        **{f"scorer:{m}": BASE_CHECKPOINT.format(model=m) for m in scorers_of(wc)},
    }
    return {
        **{k: v for k, v in paths.items() if k in needs},
        "generated": generated,
        "model": model,
    }


def filter_trust(wc):
    """params entry trust_remote_code of a filter job: {checkpoint entry: whether its model code may run}, the
    trained model's flag for its own checkpoints, a named scorer's own."""
    own = trusts_remote_code(wc.model)
    return {
        "model": own,
        "base": own,
        **{f"scorer:{m}": trusts_remote_code(m) for m in scorers_of(wc)},
    }
