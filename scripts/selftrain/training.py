"""Causal-LM training on packed fixed-length blocks (EOS between documents, no padding)."""

from __future__ import annotations

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


class Processes:
    """The processes of one training (torchrun's RANK / WORLD_SIZE / LOCAL_RANK; one process without them):
    the process group is started here, nccl on GPUs, gloo on CPUs."""

    def __init__(self, cfg: dict):
        import torch
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        gpu = torch.cuda.is_available() and cfg.get("device", "auto") != "cpu"
        if gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        self.device = torch.device("cuda", torch.cuda.current_device()) if gpu else torch.device("cpu")
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if gpu else "gloo")

    def barrier(self) -> None:
        import torch.distributed as dist

        if self.world > 1:
            dist.barrier()

    def sum(self, value: float) -> float:
        """value summed over the processes (every process gets the sum)."""
        import torch
        import torch.distributed as dist

        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t[0])


def batch_layout(cfg: dict, world: int) -> tuple[int, int]:
    """(micro_batch_size, accumulation steps) so that micro x accumulation x processes = batch_size exactly;
    anything else would repeat or drop rows of a batch, so it is an error naming the key."""
    from .io import InputError

    bs = cfg["batch_size"]
    micro = cfg.get("micro_batch_size") or (bs // world if bs % world == 0 else None)
    if micro is None or bs % (micro * world):
        raise InputError(f"config key 'training.batch_size': {bs} blocks per step do not divide over {world} "
                         f"processes x micro_batch_size {cfg.get('micro_batch_size')} "
                         "(batch_size must be a multiple of micro_batch_size x processes)")
    return micro, bs // (micro * world)


def resolved(cfg: dict, world: int, gpu: bool) -> tuple[str, str]:
    """(sharding, precision) after `auto`: FSDP2 with more than one process (one process holds everything
    anyway), bf16 mixed precision on GPUs, fp32 on CPUs (bf16 matmuls are slow on these CPUs)."""
    sharding = cfg.get("sharding", "auto")
    if sharding == "auto" or world == 1:
        sharding = "fsdp" if world > 1 else "none"
    precision = cfg.get("precision", "auto")
    return sharding, ("bf16" if gpu else "fp32") if precision == "auto" else precision


def wrap(model, sharding: str, precision: str, procs: Processes, checkpointing: bool):
    """The model ready to train: activation checkpointing (recompute each decoder layer in the backward),
    then FSDP2 (each decoder layer its own unit, then the root) or DDP across processes."""
    import torch

    if checkpointing:
        # non-reentrant torch.utils.checkpoint, the kind that composes with FSDP2 (transformers 5.19.0's default when
        # no kwargs are given, modeling_utils.gradient_checkpointing_enable; passed explicitly all the same). 5.19.0
        # has no activation_checkpointing_enable, the name this called under 5.23.0.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(procs.device)
    if sharding == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        # bf16 compute and all-gathers, fp32 master weights and gradient reduction (FSDP2's documented pattern)
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
            if precision == "bf16" else MixedPrecisionPolicy()
        layers = set(getattr(model, "_no_split_modules", None) or [])
        for module in model.modules():
            if type(module).__name__ in layers:
                fully_shard(module, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
    elif procs.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[procs.device.index] if procs.device.type == "cuda" else None)
    return model


def train_causal_lm(model, blocks: np.ndarray, cfg: dict, seed: int, log=print, resume_dir=None) -> dict:
    """Train in place for cfg['epochs'] passes over shuffled blocks; returns a stats dict.

    Every process walks the same shuffled global batches of batch_size blocks; each takes micro_batch_size
    rows per forward and accumulates gradients until the global batch is done. The loss is the sum of token
    losses over the global batch divided by its target count, so 1 or N processes compute the same gradient
    (to float rounding). A short last batch is filled with rows that carry no target and count no tokens.
    With resume_dir and cfg['save_every'] > 0, every process saves its shard of weights and optimizer
    there every save_every steps and a killed run continues from it to the same final bytes."""
    import contextlib

    import torch

    from .resume_state import load_resume_state, resume_fingerprint, save_resume_state

    if len(blocks) == 0:
        raise ValueError("no full training block: the corpus is shorter than training.block_size")
    procs = Processes(cfg)
    rank, world = procs.rank, procs.world
    micro, accumulate = batch_layout(cfg, world)
    sharding, precision = resolved(cfg, world, procs.device.type == "cuda")
    bs = cfg["batch_size"]
    steps_per_epoch = math.ceil(len(blocks) / bs)
    total = steps_per_epoch * cfg["epochs"]
    if cfg.get("max_steps"):
        total = min(total, cfg["max_steps"])
    save_every = cfg.get("save_every", 0) if resume_dir else 0
    fingerprint = resume_fingerprint(model, blocks, cfg, seed, world) if save_every else None
    model.train()
    model = wrap(model, sharding, precision, procs, cfg.get("activation_checkpointing", False))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in name else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.get("weight_decay", 0.0)},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg["lr"], betas=tuple(cfg.get("betas", (0.9, 0.95))), eps=1e-8,
    )
    forward = compiled(model) if cfg.get("compile") else model
    # unsharded bf16: autocast; FSDP2 casts through its MixedPrecisionPolicy instead
    autocast = (lambda: torch.autocast(procs.device.type, dtype=torch.bfloat16)) \
        if precision == "bf16" and sharding != "fsdp" else contextlib.nullcontext
    gen = np.random.default_rng(seed)
    data = torch.from_numpy(blocks)
    filler = torch.full((1, blocks.shape[1]), -100, dtype=torch.int64)
    targets_per_row = blocks.shape[1] - 1  # the model shifts labels by one inside each block
    step, tokens, losses, t0 = 0, 0, [], time.perf_counter()
    order, skip = None, 0
    if save_every:
        state = load_resume_state(resume_dir, fingerprint, model, opt, rank, world)
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
            n_targets = len(rows) * targets_per_row
            for group in opt.param_groups:
                group["lr"] = lr_at(step, total, cfg["lr"], cfg.get("warmup_steps", 0), cfg.get("min_lr_ratio", 0.1))
            loss_sum = 0.0
            for k in range(accumulate):
                first = (k * world + rank) * micro  # micro-step k: processes take consecutive slices
                mine = torch.from_numpy(rows[first : first + micro])
                ids = data[mine]
                labels = ids.clone()
                if len(ids) < micro:  # past the end of a short last batch: rows without targets
                    pad = filler.expand(micro - len(ids), -1)
                    ids, labels = torch.cat([ids, pad.clamp(min=0)]), torch.cat([labels, pad])
                ids, labels = ids.to(procs.device), labels.to(procs.device)
                last = k == accumulate - 1
                sync = contextlib.nullcontext()
                if sharding == "fsdp":
                    model.set_requires_gradient_sync(last)  # reduce-scatter once per optimizer step
                elif world > 1 and not last:
                    sync = model.no_sync()
                with sync, autocast():
                    # summed token losses / the global batch's targets; x world because FSDP and DDP average
                    # gradients over processes
                    loss = forward(input_ids=ids, labels=labels, num_items_in_batch=n_targets).loss
                    (loss * world).backward()
                loss_sum += float(loss.detach())
            if cfg.get("grad_clip"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(procs.sum(loss_sum))
            tokens += len(rows) * blocks.shape[1]
            step += 1
            if step % max(1, total // 10) == 0 or step == total:
                log(f"step {step}/{total} loss {np.mean(losses[-max(1, total // 10):]):.4f}")
            if save_every and step % save_every == 0 and step < total:
                save_resume_state(resume_dir, fingerprint, model, opt, {
                    "step": step, "tokens": tokens, "losses": losses, "order": order.tolist(),
                    "position": start // bs + 1, "generator": gen.bit_generator.state}, rank, world, procs.barrier)
                log(f"resume state saved at step {step}")
        order = None
    seconds = time.perf_counter() - t0
    log(f"trained {tokens} tokens in {seconds:.1f}s ({tokens / seconds:.0f} tokens/s; {world} processes, "
        f"sharding {sharding}, {precision}, micro-batch {micro} x {accumulate} accumulation)")
    model.eval()
    return {
        "steps": step,
        "blocks": int(len(blocks)),
        "tokens_seen": tokens,
        "first_loss": round(losses[0], 6),
        "final_loss": round(float(np.mean(losses[-max(1, len(losses) // 10):])), 6),
    }


def full_state_dict(model) -> dict | None:
    """The full (unsharded) weights of an FSDP2-sharded model on process 0's CPU, gathered from every process
    (collective); None for an unsharded model, whose own state dict is complete."""
    from torch.distributed.fsdp import FSDPModule

    if not isinstance(model, FSDPModule):
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    # a tied weight (lm_head = embeddings) comes back under both names; keep the name an unsharded model saves,
    # the first one (named_parameters lists a shared parameter once)
    own = {name for name, _ in model.named_parameters()} | {name for name, _ in model.named_buffers()}
    return {k: v for k, v in full.items() if k in own}


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
