"""Causal-LM training on packed fixed-length blocks (EOS between documents, no padding)."""

from __future__ import annotations

import json
import math
import os
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


def train_causal_lm(model, blocks: np.ndarray, cfg: dict, seed: int, log=print, resume_dir=None) -> dict:
    """Train in place for cfg['epochs'] passes over shuffled blocks; returns a stats dict.

    With resume_dir and cfg['save_every'] > 0, the full state (weights, optimizer, data order, RNG) is
    saved there every save_every steps and a killed run continues from it to the same final bytes."""
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
    forward = compiled(model) if cfg.get("compile") else model
    # data parallel: every process walks the same global batches and takes its share of each
    rank, world = accelerator.process_index, accelerator.num_processes
    model.train()
    gen = np.random.default_rng(seed)
    data = torch.from_numpy(blocks)
    step, tokens, losses, t0 = 0, 0, [], time.perf_counter()
    save_every = cfg.get("save_every", 0) if resume_dir else 0
    fingerprint = resume_fingerprint(model, blocks, cfg, seed) if save_every else None
    order, skip = None, 0
    if save_every:
        state = load_resume_state(resume_dir, fingerprint, model, opt)
        if state is not None:
            step, tokens, losses, skip = state["step"], state["tokens"], state["losses"], state["position"]
            order = np.asarray(state["order"], dtype=np.int64)
            gen.bit_generator.state = state["generator"]
            log(f"resumed from step {step} ({resume_dir})")
    while step < total:
        if order is None:
            order = gen.permutation(len(blocks))
            skip = 0
        for start in range(skip * bs, len(order), bs):
            if step >= total:
                break
            rows = order[start : start + bs]
            if world > 1:  # a short last batch still gives every process a row, so none waits forever
                rows = np.resize(rows, max(len(rows), world))[rank::world]
            batch = data[torch.from_numpy(rows)].to(accelerator.device)
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, cfg["lr"], cfg.get("warmup_steps", 0), cfg.get("min_lr_ratio", 0.1))
            loss = forward(input_ids=batch, labels=batch).loss
            accelerator.backward(loss)
            if cfg.get("grad_clip"):
                accelerator.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            tokens += batch.numel() * world
            step += 1
            if step % max(1, total // 10) == 0 or step == total:
                log(f"step {step}/{total} loss {np.mean(losses[-max(1, total // 10):]):.4f}")
            if save_every and step % save_every == 0 and step < total and accelerator.is_main_process:
                save_resume_state(resume_dir, fingerprint, model, opt, {
                    "step": step, "tokens": tokens, "losses": losses, "order": order.tolist(),
                    "position": start // bs + 1, "generator": gen.bit_generator.state})
                log(f"resume state saved at step {step}")
        order = None
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


def compiled(model):
    """torch.compile of the training forward (training.compile): fuses the element-wise work around the
    matmuls (norms, rotary, activations); on CPU its kernels need a C++ compiler, checked up front."""
    import shutil

    import torch

    from .io import InputError

    if not torch.cuda.is_available() and not shutil.which(os.environ.get("CXX", "g++")):
        raise InputError("config key 'training.compile': true needs a C++ compiler on CPU (torch inductor); "
                         f"none found ({os.environ.get('CXX', 'g++')}): install g++ or set it to false")
    return torch.compile(model)


RESUME_WEIGHTS = "model.safetensors"
RESUME_OPTIMIZER = "optimizer.safetensors"
RESUME_STATE = "state.json"


def resume_fingerprint(model, blocks: np.ndarray, cfg: dict, seed: int) -> str:
    """What a resume state belongs to: initial weights, data, config (save_every aside) and seed."""
    import hashlib

    import torch

    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in cfg.items() if k != "save_every"}, sort_keys=True).encode())
    h.update(str(seed).encode())
    h.update(np.ascontiguousarray(blocks).tobytes())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_resume_state(resume_dir, fingerprint: str, model, opt, state: dict) -> None:
    """Atomically replace resume_dir with weights and optimizer (safetensors) and the loop state (JSON)."""
    import torch
    from safetensors.torch import save_file, save_model

    from .io import atomic_directory

    opt_state = opt.state_dict()
    tensors = {f"{i}.{k}": v.detach().cpu().contiguous() for i, s in opt_state["state"].items()
               for k, v in s.items() if isinstance(v, torch.Tensor)}
    tensors["torch_rng"] = torch.get_rng_state()
    with atomic_directory(resume_dir) as tmp:
        save_model(model, str(tmp / RESUME_WEIGHTS))
        save_file(tensors, str(tmp / RESUME_OPTIMIZER))
        doc = dict(state, fingerprint=fingerprint, param_groups=opt_state["param_groups"],
                   state_keys={str(i): sorted(s) for i, s in opt_state["state"].items()})
        (tmp / RESUME_STATE).write_text(json.dumps(doc))


def load_resume_state(resume_dir, fingerprint: str, model, opt) -> dict | None:
    """Restore model and optimizer from resume_dir and return the loop state; None when there is no
    state or it belongs to another run (other weights, data, config or seed)."""
    from pathlib import Path

    import torch
    from safetensors.torch import load_file, load_model

    path = Path(resume_dir)
    if not (path / RESUME_STATE).is_file():
        return None
    state = json.loads((path / RESUME_STATE).read_text())
    if state.get("fingerprint") != fingerprint:
        return None
    load_model(model, str(path / RESUME_WEIGHTS))
    tensors = load_file(str(path / RESUME_OPTIMIZER))
    opt.load_state_dict({
        "state": {int(i): {k: tensors[f"{i}.{k}"] for k in keys} for i, keys in state["state_keys"].items()},
        "param_groups": state["param_groups"],
    })
    torch.set_rng_state(tensors["torch_rng"])
    return state


DEFAULT_SCRATCH_ROOT = "results/.scratch"


def scratch_root(setting: str | None, workdir=".") -> str:
    """The folder this working directory's resume states live under: results/.scratch, or config key
    scratch_dir with environment variables expanded here, on the node that runs the job, plus one folder
    per working directory so that experiments sharing one scratch never meet."""
    import hashlib
    import re
    from pathlib import Path

    from .io import InputError

    if setting is None:
        return DEFAULT_SCRATCH_ROOT
    names = {a or b for a, b in re.findall(r"\$(?:\{(\w+)\}|(\w+))", setting)}
    unset = sorted(n for n in names if not os.environ.get(n))
    if unset:
        raise InputError(f"config key 'scratch_dir': environment variable {unset[0]} is not set on this node "
                         f"(scratch_dir is {setting!r})")
    key = hashlib.sha256(str(Path(workdir).resolve()).encode()).hexdigest()[:12]
    return str(Path(os.path.expanduser(os.path.expandvars(setting)), f"selftrain-{key}"))


def scratch_dir(target: str, root: str | None = None) -> str:
    """<root>/<target under results>: resume state kept outside the directory() output, which Snakemake
    wipes before a job starts; one folder per target (model, condition, seed, round), so parallel jobs on a
    shared scratch never collide. Default root: results/.scratch."""
    from pathlib import Path

    path = Path(target)
    under_results = not path.is_absolute() and path.parts[:1] == ("results",)
    if root is None and not under_results:
        # anywhere else: a hidden sibling, never a path that joins back onto the target itself
        return str(path.parent / f".{path.name}.scratch")
    parts = path.parts[1:] if under_results else path.relative_to(path.anchor).parts
    return str(Path(root or DEFAULT_SCRATCH_ROOT, *parts))


def discard_resume_state(resume_dir, root: str | None = None) -> None:
    """Remove a resume state after its checkpoint is saved, and its empty parents up to the scratch root
    itself (without a root: up to a folder named .scratch)."""
    import shutil
    from pathlib import Path

    path = Path(resume_dir)
    top = Path(root) if root else None
    shutil.rmtree(path, ignore_errors=True)
    for parent in path.parents:
        if top is not None and top != parent and top not in parent.parents:
            break
        try:
            parent.rmdir()  # only when empty: another job on the same scratch may be using it
        except OSError:
            break
        if parent == top or (top is None and parent.name == ".scratch"):
            break
