# Input function of rule train_round (rules/train.smk includes this file).


def train_inputs(wc):
    """Round r continues from round r-1 (init previous) or restarts from the base model (init base), and
    trains on the filtered corpora its data regime names."""
    from selftrain.regimes import regime_class

    spec = condition(wc.condition)
    regime = regime_class(spec["data"])
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
