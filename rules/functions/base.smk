# Input function and params of rule base_model (rules/base.smk includes this file).
from selftrain.config import without_runtime_only


def base_inputs(wc):
    """A pretrain-kind base needs the corpus and its tokenizer; hub and local bases need nothing here."""
    kind = config["models"][wc.model]["base"]["kind"]
    if kind == "pretrain":
        return {"train": TRAIN_JSONL, "tokenizer": TOKENIZER.format(model=wc.model)}
    return dict(FETCHED) if kind == "hub" else {}


def base_spec(model):
    """The base section a base_model job reads, without the resume cadence of its pre-training (read at run
    time: config.RUNTIME_ONLY)."""
    base = config["models"][model]["base"]
    if "training" not in base:
        return base
    return {**base, "training": without_runtime_only(base["training"], "training")}
