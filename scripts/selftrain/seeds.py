"""Seeds derived from names, never from time or job order."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(*parts) -> int:
    """A 31-bit seed from (global seed, model, condition, seed index, round, stage, ...)."""
    key = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) RNGs."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
