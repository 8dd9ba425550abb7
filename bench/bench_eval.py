"""Evaluation through lm-eval. Perplexity: our length-sorted windows (SortedRollingHFLM, batch 32)
vs lm-eval's HFLM one document at a time; lm-eval's own batch-32 HFLM for context. Downstream tasks: task
configs with compiled templates vs the YAMLs' template strings; the LM head at continuation positions only
(SortedRollingHFLM) vs lm-eval's HFLM, which computes logits at every position."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import BENCH_ARCH, QUICK_ARCH, corpus_texts, report, tokenizer_and_model


def main_perplexity(quick: bool) -> list[dict]:
    from selftrain.evaluation import perplexity_block, perplexity_task, run_lm_eval
    from selftrain.io import write_jsonl

    arch, vocab = (QUICK_ARCH, 1024) if quick else (BENCH_ARCH, 8192)
    texts = corpus_texts(40 if quick else 400)
    tok, model = tokenizer_and_model(arch, vocab, texts[:30])
    # short documents (a speech or two), as held-out sets of real text mostly are
    docs = [{"id": str(i), "text": p} for i, p in enumerate(p for t in texts[30:] for p in t.split("\n\n") if len(p) > 80)]
    docs = docs[: 30 if quick else 2000]
    n_tokens = sum(len(tok(d["text"])["input_ids"]) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "heldout.jsonl"
        write_jsonl(path, docs)
        task = [perplexity_task(path)]
        times, values = {}, {}
        for name, bs, ours in (("one_doc", 1, False), ("lm_eval_batched", 32, False), ("ours", 32, True)):
            t0 = time.perf_counter()
            values[name] = perplexity_block(run_lm_eval(model, tok, task, bs, None, 0, sorted_rolling=ours),
                                            "heldout_perplexity")
            times[name] = time.perf_counter() - t0
    same = all(abs(v["word_perplexity"] / values["one_doc"]["word_perplexity"] - 1) < 1e-4 for v in values.values())
    return [report("perplexity eval tokens/s ours (sorted, batched) vs one document at a time",
                   times["one_doc"] / times["ours"], ">= 4x",
                   ours_tokens_per_s=n_tokens / times["ours"], single_tokens_per_s=n_tokens / times["one_doc"],
                   lm_eval_batch32_tokens_per_s=n_tokens / times["lm_eval_batched"],
                   documents=len(docs), same_perplexity=same)]


def task_items(texts: list[str], n: int) -> dict[str, list[dict]]:
    """Last-word and minimal-pair items built from real text, as the pipeline's build_task does."""
    from selftrain.downstream import build_task_items

    docs = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    return {name: build_task_items(name, docs, n, 0) for name in ("last_word", "minimal_pairs")}


def main_tasks(quick: bool) -> list[dict]:
    """The local downstream tasks through lm-eval: the task configs as the pipeline passes them (Jinja fields
    compiled once, selftrain.evaluation.compiled_template) vs the YAMLs' template strings, which lm-eval
    compiles anew for every document and field. Same model, items and scores."""
    import yaml

    from selftrain.evaluation import TASKS_DIR, downstream_block, local_task, run_lm_eval
    from selftrain.io import write_jsonl

    arch, vocab = (QUICK_ARCH, 1024) if quick else (BENCH_ARCH, 8192)
    texts = corpus_texts(40 if quick else 200)
    tok, model = tokenizer_and_model(arch, vocab, texts[:30])
    items = task_items(texts[30:], 40 if quick else 1000)
    with tempfile.TemporaryDirectory() as tmp:
        compiled, raw = [], []
        for name, rows in items.items():
            write_jsonl(Path(tmp) / f"{name}.jsonl", rows)
            task = local_task(name, Path(tmp) / f"{name}.jsonl")
            compiled.append(task)
            strings = yaml.safe_load((TASKS_DIR / f"{name}.yaml").read_text())
            raw.append({**task, **{k: strings[k] for k in ("doc_to_text", "doc_to_target", "doc_to_choice") if k in strings}})
        times, scores = {}, {}
        for label, tasks, ours in (("templates", raw, True), ("compiled", compiled, True),
                                   ("lm_eval_scoring", compiled, False)):
            t0 = time.perf_counter()
            results = run_lm_eval(model, tok, tasks, 16, None, 0, sorted_rolling=ours)
            times[label] = time.perf_counter() - t0
            scores[label] = {t["task"]: downstream_block(results, t["task"]) for t in tasks}

    def close(a: dict, b: dict) -> bool:
        return all(abs(a[t][m] - b[t][m]) <= 1e-6 * max(1.0, abs(b[t][m])) for t in b for m in b[t])

    return [report("downstream tasks through lm-eval: compiled task templates vs lm-eval compiling per document",
                   times["templates"] / times["compiled"], "> 1x", compiled_s=times["compiled"],
                   templates_s=times["templates"], items={k: len(v) for k, v in items.items()},
                   same_scores=scores["compiled"] == scores["templates"]),
            report("downstream tasks: LM head at the continuation's positions only (SortedRollingHFLM) vs lm-eval's "
                   "HFLM (logits at every position)", times["lm_eval_scoring"] / times["compiled"], "> 1x",
                   ours_s=times["compiled"], lm_eval_s=times["lm_eval_scoring"],
                   same_scores=close(scores["compiled"], scores["lm_eval_scoring"]))]


def main(quick: bool) -> list[dict]:
    return main_perplexity(quick) + main_tasks(quick)
