"""tests/vllm_cpu run the project's vLLM code paths on vLLM's CPU build (`make test-vllm`, in .venv-vllm).

In an environment without vllm (the main .venv) this folder is not collected; with SELFTRAIN_VLLM_TESTS=required
(set by the Makefile) a missing vllm is an error, so CI can never skip these tests silently."""

import importlib.util
import os
from pathlib import Path

import pytest

# this file shadows tests/conftest.py for `from conftest import ...` in this folder: take its helpers by path
_spec = importlib.util.spec_from_file_location("selftrain_tests_conftest", Path(__file__).parents[1] / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
sample_docs = _shared.sample_docs

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("SELFTRAIN_VLLM_TESTS") == "required":
        raise RuntimeError("tests/vllm_cpu: vllm is not importable in this environment; build it with `make vllm-venv`")
    collect_ignore_glob = ["test_*.py"]

# vLLM's CPU attention takes head sizes of 32 and more (vllm/v1/attention/backends/cpu_attn.py), so the shared
# tiny_arch (head size 16) does not fit; this one has head size 32 and two layers
VLLM_ARCH = {"hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 2,
             "max_position_embeddings": 256}


@pytest.fixture(scope="session")
def vllm_checkpoint(tmp_path_factory, tiny_tokenizer):
    """A tiny Olmo2 checkpoint written as the pipeline writes one (safetensors + tokenizer)."""
    from selftrain.modeling import build_olmo2, save_checkpoint

    path = tmp_path_factory.mktemp("vllm") / "checkpoint"
    save_checkpoint(build_olmo2(VLLM_ARCH, tiny_tokenizer, seed=0), tiny_tokenizer, path)
    return path


@pytest.fixture(scope="session")
def engine(vllm_checkpoint):
    """One vLLM engine for the whole folder (starting one costs about a minute on 2 cores): lm-eval's VLLM model
    built from the project's own arguments; generation tests use its vllm.LLM (engine.model)."""
    from selftrain.evaluation import vllm_lm, vllm_model_args

    evaluation = {"batch_size": 8, "max_length": None, "gpu_memory_utilization": 0.9}
    return vllm_lm(vllm_model_args(vllm_checkpoint, evaluation, 0, gpus=1, device="cpu"))
