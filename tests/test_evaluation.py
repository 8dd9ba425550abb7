import math
import re

import pytest
import torch

from conftest import sample_docs
from selftrain.evaluation import (downstream_block, downstream_groups, eval_record, evaluate_checkpoint, local_task,
                                  perplexity_block, perplexity_task, run_lm_eval, validate_eval_record)
from selftrain.io import InputError
from selftrain.io import write_jsonl


def test_lm_eval_perplexity_matches_a_direct_computation(tmp_path, tiny_model, tiny_tokenizer):
    docs = sample_docs(6)
    write_jsonl(tmp_path / "heldout.jsonl", docs)
    results = run_lm_eval(tiny_model, tiny_tokenizer, [perplexity_task(tmp_path / "heldout.jsonl")], 4, None, 0)
    block = perplexity_block(results, "heldout_perplexity")

    # the same numbers by hand: each document scored after a leading EOS, its log-likelihood summed
    total_nll, words, nbytes = 0.0, 0, 0
    for d in docs:
        ids = [tiny_tokenizer.eos_token_id] + tiny_tokenizer(d["text"], add_special_tokens=False)["input_ids"]
        assert len(ids) <= 128  # one window
        with torch.no_grad():
            logits = tiny_model(torch.tensor([ids])).logits[0, :-1].double()
        total_nll -= torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None]).sum().item()
        words += len(re.split(r"\s+", d["text"]))
        nbytes += len(d["text"].encode())
    assert block["word_perplexity"] == pytest.approx(math.exp(total_nll / words), rel=1e-4)
    assert block["byte_perplexity"] == pytest.approx(math.exp(total_nll / nbytes), rel=1e-4)
    assert block["bits_per_byte"] == pytest.approx(total_nll / nbytes / math.log(2), rel=1e-4)
    assert block["documents"] == 6


def test_eval_record_schema():
    rec = eval_record({"model": "m", "condition": "c", "seed": 0, "round": 2},
                      {"heldout": {"word_perplexity": 1.0, "byte_perplexity": 1.0, "bits_per_byte": 0.0, "documents": 1}},
                      {"last_word": {"acc": 0.5, "perplexity": 3.0, "items": 2}})
    assert rec["schema_version"] == 2
    assert set(rec) == {"schema_version", "model", "condition", "seed", "round", "perplexity", "downstream", "diversity",
                        "lm_eval_version"}
    validate_eval_record(rec)
    rec["downstream"]["last_word"]["acc"] = 1.5
    with pytest.raises(InputError, match="eval.json key 'downstream.last_word.acc': 1.5 is greater than the maximum of 1"):
        validate_eval_record(rec)


def _logprobs(model, ids):
    """log p(ids[i] | ids[:i]) for i >= 1, and whether each is the greedy choice."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].double()
    lp = torch.log_softmax(logits, -1)
    target = torch.tensor(ids[1:])
    return lp.gather(1, target[:, None])[:, 0], lp.argmax(-1) == target


def test_local_tasks_through_lm_eval_match_a_direct_computation(tmp_path, tiny_model, tiny_tokenizer):
    lines = [d["text"].replace("\n", " ") for d in sample_docs(4)]
    last_word = [{"id": f"l{i}", "context": t.rsplit(" ", 1)[0], "target": t.rsplit(" ", 1)[1]} for i, t in enumerate(lines)]
    pairs = [{"id": "p0", "sentence_good": "the moon is bright", "sentence_bad": "the moon are bright"},
             {"id": "p1", "sentence_good": "four days will steep", "sentence_bad": "days four will steep"},
             {"id": "p2", "sentence_good": "our nuptial hour draws on", "sentence_bad": "our nuptial hour draw on"}]
    choice = [{**it, "choices": [it["target"], "moon", "night", "desires"]} for it in last_word]
    write_jsonl(tmp_path / "last_word.jsonl", last_word)
    write_jsonl(tmp_path / "last_word_choice.jsonl", choice)
    write_jsonl(tmp_path / "minimal_pairs.jsonl", pairs)
    files = {"last_word": str(tmp_path / "last_word.jsonl"), "minimal_pairs": str(tmp_path / "minimal_pairs.jsonl"),
             "last_word_choice": str(tmp_path / "last_word_choice.jsonl")}
    write_jsonl(tmp_path / "heldout.jsonl", sample_docs(2))
    evaluation = {"batch_size": 4, "max_length": None,
                  "downstream": {"tasks": [{"name": "last_word"}, {"name": "minimal_pairs", "num_fewshot": 0},
                                           {"name": "last_word_choice"}]}}
    perplexity, downstream = evaluate_checkpoint(tiny_model, tiny_tokenizer, evaluation,
                                                 {"heldout": str(tmp_path / "heldout.jsonl")}, files, 0)
    assert set(perplexity) == {"heldout"} and perplexity["heldout"]["documents"] == 2

    # last word: the continuation " word" after the context's tokens, greedy = every token is the argmax
    greedy, nll = [], 0.0
    for it in last_word:
        ctx = tiny_tokenizer(it["context"], add_special_tokens=False)["input_ids"]
        whole = tiny_tokenizer(it["context"] + " " + it["target"], add_special_tokens=False)["input_ids"]
        lp, is_max = _logprobs(tiny_model, whole)
        n = len(whole) - len(ctx)
        greedy.append(bool(is_max[-n:].all()))
        nll -= lp[-n:].sum().item()
    assert downstream["last_word"]["acc"] == sum(greedy) / len(greedy)
    assert downstream["last_word"]["perplexity"] == pytest.approx(math.exp(nll / len(last_word)), rel=1e-4)
    assert downstream["last_word"]["items"] == 4
    # minimal pairs: each sentence scored after the EOS token; right when the real one is more likely
    right = []
    for it in pairs:
        good, bad = (_logprobs(tiny_model, [tiny_tokenizer.eos_token_id] + tiny_tokenizer(" " + s, add_special_tokens=False)["input_ids"])[0].sum().item()
                     for s in (it["sentence_good"], it["sentence_bad"]))
        right.append(good > bad)
    assert downstream["minimal_pairs"]["acc"] == sum(right) / len(right)
    assert downstream["minimal_pairs"]["items"] == 3
    # the last word as a choice: the context, then " <word>" for each of the four words; right when the true
    # word (choice 0) is the most likely
    right = []
    for it in choice:
        ctx = tiny_tokenizer(it["context"], add_special_tokens=False)["input_ids"]
        scores = []
        for word in it["choices"]:
            whole = tiny_tokenizer(it["context"] + " " + word, add_special_tokens=False)["input_ids"]
            scores.append(_logprobs(tiny_model, whole)[0][-(len(whole) - len(ctx)):].sum().item())
        right.append(max(range(4), key=lambda i: scores[i]) == 0)
    assert downstream["last_word_choice"]["acc"] == sum(right) / len(right)
    assert downstream["last_word_choice"]["items"] == 4


def test_downstream_groups_split_local_tasks_from_lm_eval_names_by_shots_and_limit(tmp_path):
    tasks = [{"name": "last_word"}, {"name": "arc_easy", "num_fewshot": 5, "limit": 100},
             {"name": "hellaswag", "num_fewshot": 5, "limit": 100}, {"name": "boolq", "num_fewshot": 0}]
    groups = downstream_groups(tasks, {"last_word": str(tmp_path / "lw.jsonl")})
    assert list(groups) == [(None, None), (5, 100), (0, None)]
    assert groups[(None, None)] == [local_task("last_word", tmp_path / "lw.jsonl")]
    assert groups[(5, 100)] == ["arc_easy", "hellaswag"] and groups[(0, None)] == ["boolq"]


def test_downstream_block_drops_stderr_and_the_filter_suffix():
    results = {"t": {"alias": "t", "acc,none": 0.25, "acc_stderr,none": "N/A", "acc_norm,none": 0.5, "sample_len": 8}}
    assert downstream_block(results, "t") == {"acc": 0.25, "acc_norm": 0.5, "items": 8}


OLMES_CORE = ("arc_easy", "arc_challenge", "boolq", "commonsense_qa", "hellaswag", "openbookqa", "piqa", "social_iqa",
              "winogrande")


def test_olmes_core_task_lists_validate_and_name_real_lm_eval_tasks():
    from pathlib import Path

    import lm_eval
    import yaml

    from selftrain.config import validate_config

    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    cfg["evaluation"]["downstream"] = {"tasks": [{"name": n, "num_fewshot": 5, "limit": 500} for n in OLMES_CORE]}
    validate_config(cfg)
    tasks = cfg["evaluation"]["downstream"]["tasks"]
    assert downstream_groups(tasks, {}) == {(5, 500): list(OLMES_CORE)}
    # each name is a task YAML that lm-eval ships (its data come from the hub, on a cluster)
    shipped = {line.split(":", 1)[1].strip() for p in Path(lm_eval.__file__).parent.joinpath("tasks").rglob("*.yaml")
               for line in p.read_text(errors="ignore").splitlines() if line.startswith("task:")}
    assert set(OLMES_CORE) <= shipped
    cfg["evaluation"]["downstream"]["tasks"] = [{"name": "arc_easy", "shots": 5}]
    with pytest.raises(InputError, match="config key 'evaluation.downstream.tasks.0.shots': unknown key"):
        validate_config(cfg)


def test_window_batches_sort_longest_first():
    from selftrain.scoring import window_batches

    assert window_batches([3, 10, 5, 10, 2], 2) == [[1, 3], [2, 0], [4]]
    assert window_batches([30, 4], 5) == [[0, 1]]


def test_sorted_rolling_loglikelihoods_equal_lm_eval_hflm(tiny_model, tiny_tokenizer):
    """Length-sorted batches give lm-eval's own per-document log-likelihoods, multi-window
    documents (longer than max_length) included."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from selftrain.rolling import SortedRollingHFLM

    texts = [d["text"] for d in sample_docs(7)]
    texts += [" ".join(texts) * 2, texts[0][:5]]  # several 32-token windows; a one-token document
    requests = [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)]
    kwargs = {"pretrained": tiny_model, "tokenizer": tiny_tokenizer, "max_length": 32}
    theirs = HFLM(batch_size=3, **kwargs).loglikelihood_rolling(requests)
    ours = SortedRollingHFLM(batch_size=3, **kwargs).loglikelihood_rolling(requests)
    assert len(tiny_tokenizer(texts[-2])["input_ids"]) > 3 * 32
    assert ours == pytest.approx(theirs, rel=1e-5)
    assert all(x < 0 for x in ours)


def loglikelihood_requests(tokenizer, n: int = 9):
    """lm-eval loglikelihood Instances: passages split into a context and a one- to few-word continuation,
    one context longer than a 32-token window (truncated from the left)."""
    from lm_eval.api.instance import Instance

    pairs = []
    for i, d in enumerate(sample_docs(n)):
        words = d["text"].split()
        k = 1 + i % 3
        pairs.append((" ".join(words[:-k]), " " + " ".join(words[-k:])))
    pairs.append((" ".join(d["text"] for d in sample_docs(n)), " the"))
    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]


@pytest.mark.parametrize("scaled_logits", [False, True])
def test_sorted_loglikelihoods_equal_lm_eval_hflm(tiny_model, tiny_tokenizer, scaled_logits):
    """Plain loglikelihood requests (a context, then a continuation) scored with the LM head at the predicted
    positions only give lm-eval's own log-likelihoods and greedy flags; a model whose logits are not its
    head's output (scaled after it, as some architectures do) is caught on the first batch and scored
    from its whole logits, still as lm-eval scores it."""
    from lm_eval.models.huggingface import HFLM

    from selftrain.rolling import SortedRollingHFLM
    from selftrain.scoring import split_head

    def scale(module, args, out):
        out.logits.mul_(3.0)

    if scaled_logits:
        tiny_model.register_forward_hook(scale)
    assert split_head(tiny_model) is not None
    requests = loglikelihood_requests(tiny_tokenizer)
    kwargs = {"pretrained": tiny_model, "tokenizer": tiny_tokenizer, "max_length": 32}
    # lm-eval's logits_cache (on by default) scores requests sharing context + continuation[:-1] from one
    # forward and then gathers the leading len(continuation) positions of the longest continuation's, not the
    # trailing ones (lm_eval 0.4.13 huggingface.py, torch.gather after re_ord.get_cache): these passages, cut
    # one to three words from the end, share such keys, so lm-eval's reference here is its uncached path
    theirs = HFLM(batch_size=4, logits_cache=False, **kwargs).loglikelihood(requests)
    ours = SortedRollingHFLM(batch_size=4, **kwargs).loglikelihood(requests)
    assert len(tiny_tokenizer(requests[-1].args[0])["input_ids"]) > 32
    assert [ll for ll, _ in ours] == pytest.approx([ll for ll, _ in theirs], rel=1e-5)
    assert [g for _, g in ours] == [g for _, g in theirs]
    assert all(ll < 0 for ll, _ in ours)


def test_greedy_flag_is_true_only_where_every_continuation_token_is_the_argmax(tiny_model, tiny_tokenizer):
    """A continuation made of the model's own argmax tokens is greedy; changing its last token makes it not."""
    import torch

    from selftrain.scoring import window_scores

    context = tiny_tokenizer("ROMEO. But soft, what light")["input_ids"]
    seq = list(context)
    with torch.no_grad():
        for _ in range(3):
            seq.append(int(tiny_model(input_ids=torch.tensor([seq])).logits[0, -1].argmax()))
    greedy = seq[len(context):]
    other = greedy[:-1] + [(greedy[-1] + 1) % len(tiny_tokenizer)]
    windows = [(seq[:-1], greedy), ((context + other)[:-1], other)]
    (ll_greedy, is_greedy), (ll_other, is_other) = window_scores(tiny_model, windows, 2)
    assert (is_greedy, is_other) == (True, False)
    assert ll_greedy > ll_other


def test_vllm_model_args_follow_the_config_and_the_jobs_gpus():
    from selftrain.evaluation import vllm_model_args

    evaluation = {"batch_size": 8, "max_length": 4096, "gpu_memory_utilization": 0.85}
    assert vllm_model_args("results/m/round0/checkpoint", evaluation, 11, gpus=4) == {
        "pretrained": "results/m/round0/checkpoint", "tokenizer": "results/m/round0/checkpoint", "dtype": "bfloat16",
        "tensor_parallel_size": 4, "gpu_memory_utilization": 0.85, "seed": 11, "batch_size": 8,
        "trust_remote_code": False, "max_model_len": 4096}
    # no context configured: vLLM takes the model's own; a job without a gpu resource still gets one shard
    args = vllm_model_args("ckpt", dict(evaluation, max_length=None), 0, gpus=0, trust_remote_code=True)
    assert "max_model_len" not in args and (args["tensor_parallel_size"], args["trust_remote_code"]) == (1, True)


def test_evaluation_backend_on_a_cpu_machine_is_hf_and_never_imports_vllm(tmp_path, tiny_model, tiny_tokenizer):
    import sys

    from selftrain.generation import select_backend

    assert select_backend("auto", "evaluation.backend") == "hf"  # no GPU here (and vLLM is not installed)
    with pytest.raises(RuntimeError, match="evaluation.backend 'vllm' needs the vllm package and a visible GPU"):
        select_backend("vllm", "evaluation.backend")
    write_jsonl(tmp_path / "heldout.jsonl", sample_docs(2))
    evaluation = {"batch_size": 4, "max_length": None, "downstream": {"tasks": []}}
    evaluate_checkpoint(tiny_model, tiny_tokenizer, evaluation, {"heldout": str(tmp_path / "heldout.jsonl")}, {}, 0)
    assert not {"vllm", "lm_eval.models.vllm_causallms"} & set(sys.modules)


def test_a_task_item_longer_than_max_length_is_one_clear_error_naming_the_key(tmp_path, tiny_model, tiny_tokenizer):
    """lm-eval's hf model would stop on a bare assert (seen in the Slurm rehearsal with max_length 64)."""
    sentence = " ".join(["the moon is bright"] * 12)
    write_jsonl(tmp_path / "minimal_pairs.jsonl", [
        {"id": "p0", "sentence_good": "the moon is bright", "sentence_bad": "the moon are bright"},
        {"id": "p1", "sentence_good": sentence, "sentence_bad": sentence.replace(" is ", " are ", 1)}])
    write_jsonl(tmp_path / "heldout.jsonl", sample_docs(2))
    files = {"minimal_pairs": str(tmp_path / "minimal_pairs.jsonl")}
    n = len(tiny_tokenizer(" " + sentence.replace(" is ", " are ", 1), add_special_tokens=False)["input_ids"])
    evaluation = {"batch_size": 4, "max_length": n - 1, "downstream": {"tasks": [{"name": "minimal_pairs"}]}}
    with pytest.raises(InputError, match=re.escape(f"item p1 of task minimal_pairs is {n} tokens, longer than "
                                                   f"evaluation.max_length {n - 1}; set evaluation.max_length to at least {n}")):
        evaluate_checkpoint(tiny_model, tiny_tokenizer, evaluation, {"heldout": str(tmp_path / "heldout.jsonl")}, files, 0)
    # long enough: it runs
    perplexity, downstream = evaluate_checkpoint(tiny_model, tiny_tokenizer, dict(evaluation, max_length=n), {
        "heldout": str(tmp_path / "heldout.jsonl")}, files, 0)
    assert downstream["minimal_pairs"]["items"] == 2
