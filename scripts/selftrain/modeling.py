"""Build, save and load causal LMs: tiny Olmo2 from config, checkpoints as safetensors directories."""

from __future__ import annotations

import json
from pathlib import Path

from .io import InputError, atomic_directory


def build_olmo2(arch: dict, tokenizer, seed: int):
    """A freshly initialised Olmo2ForCausalLM sized by the config's `architecture` section."""
    import torch
    from transformers import Olmo2Config, Olmo2ForCausalLM

    config = Olmo2Config(
        vocab_size=len(tokenizer),
        hidden_size=arch["hidden_size"],
        intermediate_size=arch["intermediate_size"],
        num_hidden_layers=arch["num_layers"],
        num_attention_heads=arch["num_heads"],
        num_key_value_heads=arch.get("num_kv_heads", arch["num_heads"]),
        max_position_embeddings=arch["max_position_embeddings"],
        tie_word_embeddings=arch.get("tie_word_embeddings", True),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return Olmo2ForCausalLM(config)


def save_checkpoint(model, tokenizer, out_dir: str | Path, info: dict | None = None, state_dict=None) -> None:
    """Write weights (safetensors), config, generation config and tokenizer atomically to out_dir; state_dict:
    the full weights when the model itself holds only a shard (FSDP2)."""
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)
        if info is not None:
            (tmp / "training_info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")


def inference_device() -> str:
    """Where the transformers path of a step runs a model: the GPU when the job has one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_checkpoint(path: str | Path, device: str = "cpu", dtype=None, trust_remote_code: bool = False):
    """(model, tokenizer) from a checkpoint directory; weights must be safetensors (no pickle)."""
    import torch
    from transformers import AutoModelForCausalLM

    from .tokenizer import load_tokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: not a checkpoint (no config.json)")
    if not list(path.glob("*.safetensors")):
        raise InputError(f"{path}: no safetensors weights (pickled weights are refused)")
    model = AutoModelForCausalLM.from_pretrained(
        str(path), use_safetensors=True, trust_remote_code=trust_remote_code,
        dtype=dtype or torch.float32,
    ).to(device)
    model.eval()
    return model, load_tokenizer(path)

