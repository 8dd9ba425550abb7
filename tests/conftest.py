"""Shared fixtures: tiny real tokenizers and models built from text the tests write themselves."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

SAMPLE_TEXT = """Now, fair Hippolyta, our nuptial hour
Draws on apace; four happy days bring in
Another moon: but, O, methinks, how slow
This old moon wanes! she lingers my desires,
Like to a step-dame or a dowager
Long withering out a young man's revenue.
Four days will quickly steep themselves in night;
Four nights will quickly dream away the time;
And then the moon, like to a silver bow
New-bent in heaven, shall behold the night
Of our solemnities."""


def sample_docs(n=40):
    lines = SAMPLE_TEXT.splitlines()
    return [{"id": f"doc{i:03d}", "text": "\n".join(lines[i % 5 : i % 5 + 6])} for i in range(n)]


@pytest.fixture(scope="session")
def tiny_tokenizer():
    from selftrain.tokenizer import train_tokenizer

    return train_tokenizer([d["text"] for d in sample_docs()] * 5, vocab_size=400)


@pytest.fixture(scope="session")
def tiny_arch():
    return {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2,
            "max_position_embeddings": 128}


@pytest.fixture()
def tiny_model(tiny_tokenizer, tiny_arch):
    import torch

    from selftrain.modeling import build_olmo2

    torch.set_num_threads(1)
    return build_olmo2(tiny_arch, tiny_tokenizer, seed=0).eval()
