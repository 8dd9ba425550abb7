"""GPU paths, run by hand on a GPU node: `.venv/bin/python -m pytest -q tests/gpu` (skipped without CUDA).

They build a tiny checkpoint themselves, then exercise vLLM generation, bf16 training through accelerate and
lm-eval on the GPU, and compare each with the CPU path where the comparison is meaningful."""

import importlib.util

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_tokenizer, tiny_arch):
    from selftrain.modeling import build_olmo2, save_checkpoint

    # head size 32 (hidden 64 over 2 heads), as tests/vllm_cpu: vLLM's attention kernels start at 32 on CPU
    arch = dict(tiny_arch, hidden_size=64, intermediate_size=128)
    path = tmp_path_factory.mktemp("gpu") / "checkpoint"
    save_checkpoint(build_olmo2(arch, tiny_tokenizer, seed=0), tiny_tokenizer, path)
    return path


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed")
def test_vllm_generation_fills_the_budget_and_is_seeded(checkpoint, tiny_tokenizer):
    from selftrain.generation import generate_corpus, select_backend, vllm_device, vllm_llm, vllm_sampler
    from selftrain.prompts import make_strategy

    assert select_backend("auto") == "vllm" and vllm_device() == "cuda"
    sampling = {"method": "sample", "temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 16}
    strategy = make_strategy({"strategy": "unconditional"}, tiny_tokenizer, [], 0)
    llm = vllm_llm(checkpoint, 5, gpu_memory_utilization=0.3)
    runs = [generate_corpus(vllm_sampler(llm, sampling, 5), tiny_tokenizer, strategy, 500, sampling, 64,
                            "round1", log=lambda *a: None) for _ in range(2)]
    assert sum(d["meta"]["n_tokens"] for d in runs[0]) == 500
    assert runs[0] == runs[1]


def test_bf16_training_on_gpu_lowers_the_loss(tiny_tokenizer, tiny_arch):
    from conftest import sample_docs
    from selftrain.modeling import build_olmo2
    from selftrain.training import pack_blocks, tokenize_documents, train_causal_lm

    blocks = pack_blocks(tokenize_documents(tiny_tokenizer, [d["text"] for d in sample_docs()]), 32,
                         tiny_tokenizer.eos_token_id)
    model = build_olmo2(tiny_arch, tiny_tokenizer, seed=0)
    stats = train_causal_lm(model, blocks, {"epochs": 3, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2}, 0,
                            log=lambda *a: None)
    assert stats["final_loss"] < stats["first_loss"] - 0.5


def test_lm_eval_on_gpu_matches_cpu(tmp_path, checkpoint):
    from conftest import sample_docs
    from selftrain.evaluation import perplexity_block, perplexity_task, run_lm_eval
    from selftrain.io import write_jsonl
    from selftrain.modeling import load_checkpoint

    write_jsonl(tmp_path / "h.jsonl", sample_docs(6))
    task = [perplexity_task(tmp_path / "h.jsonl")]
    values = {}
    for device in ("cpu", "cuda"):
        model, tok = load_checkpoint(checkpoint, device=device)
        values[device] = perplexity_block(run_lm_eval(model, tok, task, 4, None, 0), "heldout_perplexity")
    assert values["cuda"]["bits_per_byte"] == pytest.approx(values["cpu"]["bits_per_byte"], rel=1e-3)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed")
def test_lm_eval_vllm_backend_matches_hf_perplexity(tmp_path, checkpoint):
    from conftest import sample_docs
    from selftrain.evaluation import perplexity_block, perplexity_task, run_lm_eval, vllm_lm, vllm_model_args
    from selftrain.generation import select_backend
    from selftrain.io import write_jsonl
    from selftrain.modeling import load_checkpoint

    assert select_backend("auto", "evaluation.backend") == "vllm"
    write_jsonl(tmp_path / "h.jsonl", sample_docs(6))
    task = [perplexity_task(tmp_path / "h.jsonl")]
    evaluation = {"batch_size": 4, "max_length": None, "gpu_memory_utilization": 0.3}
    lm = vllm_lm(vllm_model_args(checkpoint, evaluation, 0, gpus=1))
    vllm = perplexity_block(run_lm_eval(None, None, task, 4, None, 0, lm=lm), "heldout_perplexity")
    model, tok = load_checkpoint(checkpoint, device="cuda")
    hf = perplexity_block(run_lm_eval(model, tok, task, 4, None, 0), "heldout_perplexity")
    assert vllm["documents"] == hf["documents"] == 6
    assert vllm["bits_per_byte"] == pytest.approx(hf["bits_per_byte"], rel=2e-2)  # bf16 against fp32


def test_perplexity_filter_scores_on_gpu_in_bf16_match_cpu(checkpoint):
    """The perplexity filter's GPU path (PerplexityBand loads its scorer on CUDA in bf16) against fp32 on CPU."""
    from conftest import sample_docs
    from selftrain.filters import document_perplexities
    from selftrain.modeling import load_checkpoint

    texts = [d["text"] for d in sample_docs(8)]
    scores = {}
    for device, dtype in (("cpu", None), ("cuda", torch.bfloat16)):
        model, tok = load_checkpoint(checkpoint, device=device, dtype=dtype)
        scores[device] = document_perplexities(model, tok, texts, 4, 64)
    assert scores["cuda"] == pytest.approx(scores["cpu"], rel=2e-2)  # bf16 against fp32
