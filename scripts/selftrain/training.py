"""Causal-LM training on packed fixed-length blocks (EOS between documents, no padding)."""

from __future__ import annotations

import math
import time

import numpy as np


def tokenize_documents(tokenizer, texts: list[str], batch: int = 1000) -> list[list[int]]:
    ids: list[list[int]] = []
    for i in range(0, len(texts), batch):
        ids.extend(tokenizer(texts[i : i + batch], add_special_tokens=False)["input_ids"])
    return ids


def pack_blocks(token_lists: list[list[int]], block_size: int, eos_id: int) -> np.ndarray:
    """Concatenate documents, each followed by EOS, and cut into full blocks (the remainder is dropped)."""
    total = sum(len(t) + 1 for t in token_lists)
    stream = np.empty(total, dtype=np.int64)
    pos = 0
    for t in token_lists:
        stream[pos : pos + len(t)] = t
        stream[pos + len(t)] = eos_id
        pos += len(t) + 1
    n_blocks = total // block_size
    return stream[: n_blocks * block_size].reshape(n_blocks, block_size)


def lr_at(step: int, total: int, peak: float, warmup: int, min_ratio: float) -> float:
    """Linear warm-up to peak, then cosine decay to min_ratio * peak at the last step."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train_causal_lm(model, blocks: np.ndarray, cfg: dict, seed: int, log=print) -> dict:
    """Train in place for cfg['epochs'] passes over shuffled blocks; returns a stats dict."""
    import torch
    from accelerate import Accelerator

    if len(blocks) == 0:
        raise ValueError("no full training block: the corpus is shorter than training.block_size")
    use_gpu = torch.cuda.is_available() and cfg.get("device", "auto") != "cpu"
    accelerator = Accelerator(cpu=not use_gpu, mixed_precision="bf16" if use_gpu else "no")
    bs = cfg["batch_size"]
    steps_per_epoch = math.ceil(len(blocks) / bs)
    total = steps_per_epoch * cfg["epochs"]
    if cfg.get("max_steps"):
        total = min(total, cfg["max_steps"])
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in name else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.get("weight_decay", 0.0)},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg["lr"], betas=tuple(cfg.get("betas", (0.9, 0.95))), eps=1e-8,
    )
    model, opt = accelerator.prepare(model, opt)
    model.train()
    gen = np.random.default_rng(seed)
    data = torch.from_numpy(blocks)
    step, tokens, losses, t0 = 0, 0, [], time.perf_counter()
    while step < total:
        order = gen.permutation(len(blocks))
        for start in range(0, len(order), bs):
            if step >= total:
                break
            batch = data[torch.from_numpy(order[start : start + bs])].to(accelerator.device)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, cfg["lr"], cfg.get("warmup_steps", 0), cfg.get("min_lr_ratio", 0.1))
            loss = model(input_ids=batch, labels=batch).loss
            accelerator.backward(loss)
            if cfg.get("grad_clip"):
                accelerator.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            tokens += batch.numel()
            step += 1
            if step % max(1, total // 10) == 0 or step == total:
                log(f"step {step}/{total} loss {np.mean(losses[-max(1, total // 10):]):.4f}")
    seconds = time.perf_counter() - t0
    log(f"trained {tokens} tokens in {seconds:.1f}s ({tokens / seconds:.0f} tokens/s)")
    model.eval()
    return {
        "steps": step,
        "blocks": int(len(blocks)),
        "tokens_seen": tokens,
        "first_loss": round(losses[0], 6),
        "final_loss": round(float(np.mean(losses[-max(1, len(losses) // 10):])), 6),
    }
