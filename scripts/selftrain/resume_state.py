"""Where and how a running training keeps its resume state: safetensors shards (one per process) + JSON.

Storage policy only; the training loop (training.py) decides when to save. No pickle anywhere: weights and
optimizer tensors are safetensors, the loop state and the optimizer's hyper-parameters JSON."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

STATE = "state.json"
DEFAULT_SCRATCH_ROOT = "results/.scratch"


def shard_names(rank: int, world: int) -> tuple[str, str]:
    """This process's weight and optimizer files; a state is only resumed by the same number of processes."""
    return (f"model-{rank:05d}-of-{world:05d}.safetensors", f"optimizer-{rank:05d}-of-{world:05d}.safetensors")


def resume_fingerprint(model, blocks: np.ndarray, cfg: dict, seed: int, world: int) -> str:
    """What a resume state belongs to: initial weights, data, config (save_every aside), seed and process count.
    Computed before the model is sharded, so every process gets the same value."""
    import torch

    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in cfg.items() if k != "save_every"}, sort_keys=True).encode())
    h.update(f"{seed} {world}".encode())
    h.update(np.ascontiguousarray(blocks).tobytes())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _local(tensor):
    """This process's shard of a (possibly sharded, DTensor) tensor, on the CPU."""
    return (tensor.to_local() if hasattr(tensor, "to_local") else tensor).detach().cpu().contiguous()


def _like(local, template):
    """local as a tensor shaped like template: a DTensor on template's mesh and placements when it is one."""
    from torch.distributed.tensor import DTensor

    if isinstance(template, DTensor):
        return DTensor.from_local(local.to(template.device), template.device_mesh, template.placements,
                                  shape=template.shape, stride=template.stride())
    return local.to(template.device)


def _unshared(tensors: dict) -> dict:
    """safetensors refuses tensors that share memory (tied embeddings): later aliases become copies."""
    seen, out = set(), {}
    for key, t in tensors.items():
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset())
        out[key] = t.clone() if ptr in seen else t
        seen.add(ptr)
    return out


def save_resume_state(resume_dir, fingerprint: str, model, opt, loop: dict, rank: int, world: int,
                      barrier=lambda: None) -> None:
    """Replace resume_dir with every process's weight and optimizer shards and the loop state (collective: all
    processes call it). Written to a temp folder beside it and renamed by process 0 once all shards are in."""
    import torch
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    path = Path(resume_dir)
    tmp = path.parent / f".{path.name}.saving"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    weights = {k: _local(v) for k, v in get_model_state_dict(model).items()}
    optim = get_optimizer_state_dict(model, opt)
    tensors = {f"{fqn}.{k}": _local(v) for fqn, s in optim["state"].items() for k, v in s.items()
               if isinstance(v, torch.Tensor)}
    tensors["torch_rng"] = torch.get_rng_state()
    model_file, optimizer_file = shard_names(rank, world)
    save_file(_unshared(weights), str(tmp / model_file))
    save_file(_unshared(tensors), str(tmp / optimizer_file))
    barrier()
    if rank == 0:
        doc = dict(loop, fingerprint=fingerprint, world=world, param_groups=optim["param_groups"],
                   state_keys={fqn: sorted(s) for fqn, s in optim["state"].items()})
        (tmp / STATE).write_text(json.dumps(doc))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    barrier()


def load_resume_state(resume_dir, fingerprint: str, model, opt, rank: int, world: int) -> dict | None:
    """Restore this process's shards of model and optimizer and return the loop state; None when there is no
    state or it belongs to another run (other weights, data, config, seed or process count)."""
    import torch
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import (get_model_state_dict, set_model_state_dict,
                                                         set_optimizer_state_dict)

    path = Path(resume_dir)
    if not (path / STATE).is_file():
        return None
    state = json.loads((path / STATE).read_text())
    if state.get("fingerprint") != fingerprint or state.get("world") != world:
        return None
    model_file, optimizer_file = shard_names(rank, world)
    template = get_model_state_dict(model)
    weights = load_file(str(path / model_file))
    set_model_state_dict(model, {k: _like(weights[k], t) for k, t in template.items()})
    tensors = load_file(str(path / optimizer_file))
    optim = {fqn: {k: tensors[f"{fqn}.{k}"] if k == "step" else _like(tensors[f"{fqn}.{k}"], template[fqn])
                   for k in keys} for fqn, keys in state["state_keys"].items()}
    set_optimizer_state_dict(model, opt, {"state": optim, "param_groups": state["param_groups"]})
    torch.set_rng_state(tensors["torch_rng"])
    return state


def scratch_root(setting: str | None, workdir=".") -> str:
    """The folder this working directory's resume states live under: results/.scratch, or config key
    scratch_dir with environment variables expanded here, on the node that runs the job, plus one folder
    per working directory so that experiments sharing one scratch never meet."""
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
