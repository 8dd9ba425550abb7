"""Generate a synthetic corpus of an exact token budget from a model and a prompting strategy."""

from __future__ import annotations

import time

from .seeds import derive_seed


def hf_generate_kwargs(sampling: dict) -> dict:
    """transformers generate() arguments for a sampling preset."""
    if sampling.get("method", "sample") == "greedy":
        return {"do_sample": False}
    kw = {"do_sample": True, "temperature": sampling.get("temperature", 1.0)}
    kw["top_k"] = sampling.get("top_k", 0) or None
    kw["top_p"] = sampling.get("top_p", 1.0)
    return kw


def vllm_sampling_kwargs(sampling: dict, seed: int) -> dict:
    """vllm.SamplingParams arguments for a sampling preset (one request, its own seed)."""
    greedy = sampling.get("method", "sample") == "greedy"
    return {
        "n": 1,
        "temperature": 0.0 if greedy else sampling.get("temperature", 1.0),
        "top_p": 1.0 if greedy else sampling.get("top_p", 1.0),
        "top_k": -1 if greedy or not sampling.get("top_k") else sampling["top_k"],
        "max_tokens": sampling["max_new_tokens"],
        "seed": seed,
    }


def _hf_batch(model, tokenizer, prompts: list[list[int]], sampling: dict, seed: int) -> list[list[int]]:
    """Sample continuations of one batch of prompts (left-padded, KV cache); EOS and after dropped."""
    import torch

    width = max(len(p) for p in prompts)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device),
            max_new_tokens=sampling["max_new_tokens"], pad_token_id=pad,
            eos_token_id=tokenizer.eos_token_id, use_cache=True, **hf_generate_kwargs(sampling),
        )
    result = []
    for row in out[:, width:].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id)]
        result.append(row)
    return result


def generate_corpus(model, tokenizer, strategy, budget: int, sampling: dict, batch_size: int,
                    seed: int, id_prefix: str, log=print) -> list[dict]:
    """Documents whose continuation tokens add up to exactly `budget` (the last one is cut)."""
    records, total, batch_index, t0 = [], 0, 0, time.perf_counter()
    min_tokens = sampling.get("min_new_tokens", 1)
    while total < budget:
        j0 = batch_index * batch_size
        prompts = [strategy.prompt_ids(j) for j in range(j0, j0 + batch_size)]
        # sort by prompt length so that left padding stays small; order is restored by index
        order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
        outs = _hf_batch(model, tokenizer, [prompts[i] for i in order], sampling,
                         derive_seed(seed, "batch", batch_index))
        continuations = [None] * len(prompts)
        for k, i in enumerate(order):
            continuations[i] = outs[k]
        for i, cont in enumerate(continuations):
            if total >= budget:
                break
            if len(cont) < min_tokens:
                continue
            cont = cont[: budget - total]
            total += len(cont)
            prompt = prompts[i][1:] if prompts[i][:1] == [tokenizer.bos_token_id] else prompts[i]
            records.append({
                "id": f"{id_prefix}-{len(records):06d}",
                "prompt": tokenizer.decode(prompt),
                "text": tokenizer.decode(cont),
                "meta": {"n_tokens": len(cont), "batch": batch_index, "prompt_index": j0 + i},
            })
        batch_index += 1
        if batch_index > 10 * (budget // max(1, min_tokens) + 1):
            raise RuntimeError(f"generation cannot fill the budget of {budget} tokens")
    dt = time.perf_counter() - t0
    log(f"generated {total} tokens in {len(records)} documents, {dt:.1f}s ({total / dt:.0f} tokens/s)")
    return records
