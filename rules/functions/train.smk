# Input function of rule train_round (rules/train.smk includes this file).
from selftrain.regimes import regime_class

# each condition's data regime class, found once at load (regime_class checks the spec against the schema)
REGIME_OF = {c: regime_class(RESOLVED_CONDITIONS[c]["data"]) for c in CONDITIONS}


def train_inputs(wc):
    """Round r continues from round r-1 (init previous) or restarts from the base model (init base), and
    trains on the filtered corpora its data regime names."""
    spec = condition(wc.condition)
    regime = REGIME_OF[wc.condition]
    init = (
        BASE_CHECKPOINT.format(model=wc.model)
        if spec["init"] == "base"
        else previous_checkpoint(wc)
    )
    inputs = {
        "init": init,
        "synthetic": [
            FILTERED.format(
                model=wc.model, condition=wc.condition, seed=wc.seed, round=r
            )
            for r in regime.needs_rounds(int(wc.round))
        ],
    }
    if "real" in regime.reads(spec["data"]):
        inputs["real"] = TRAIN_JSONL
    return inputs


def train_data(wc):
    """The data spec a train job reads (a params entry): the condition's, with what its regime takes from the
    model's generation budget (a real-data control's budget_tokens)."""
    from selftrain.regimes import regime_class

    spec = condition(wc.condition)["data"]
    return regime_class(spec).job_spec(
        spec, section(wc.model, "generation")["tokens_per_round"]
    )
