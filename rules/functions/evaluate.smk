# Input functions and params of rules evaluate_round and evaluate_base (rules/evaluate.smk includes this file).


def local_tasks(model):
    """The configured downstream tasks of a model that the pipeline builds from the held-out split."""
    from selftrain.downstream import LOCAL_TASKS

    tasks = section(model, "evaluation")["downstream"]["tasks"]
    return [t["name"] for t in tasks if t["name"] in LOCAL_TASKS]


# corpora whose diversity a round's eval.json records: round 0 the held-out real text (the reference),
# round r its generated and filtered corpora (none for a condition that generates nothing, the real-data control)
BASE_CORPORA = {"real": HELDOUT_JSONL}
ROUND_CORPORA = {"generated": GENERATED, "filtered": FILTERED}


def eval_corpora(wc):
    """The corpora of BASE_CORPORA or ROUND_CORPORA of a checkpoint's evaluation, as paths."""
    from selftrain.regimes import generates

    if "condition" not in wc.keys():
        return dict(BASE_CORPORA)
    if not generates(condition(wc.condition)["data"]):
        return {}
    key = dict(model=wc.model, condition=wc.condition, seed=wc.seed, round=wc.round)
    return {name: path.format(**key) for name, path in ROUND_CORPORA.items()}


def eval_inputs(wc):
    """A checkpoint's evaluation reads its real sets, its local task items, the vocabulary tail and its corpora."""
    sets = sorted(config["evaluation"]["perplexity_sets"])
    round_ = wc.round if "round" in wc.keys() else 0
    return {
        "model": checkpoint_of(
            wc.model, wc.get("condition", ""), wc.get("seed", ""), round_
        ),
        "heldout": HELDOUT_JSONL,
        "perplexity_sets": [PERPLEXITY_JSONL.format(set=s) for s in sets],
        "tasks": [TASK_JSONL.format(task=t) for t in local_tasks(wc.model)],
        "tail": TAIL_VOCABULARY,
        "corpora": list(eval_corpora(wc).values()),
        **(FETCHED if FETCH_PLAN["tasks"] else {}),
    }
