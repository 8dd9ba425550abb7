"""Shared fixtures: tiny real tokenizers and models built from text the tests write themselves."""

import io
import os
import sys
import warnings
from pathlib import Path
from unittest import mock

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


# JSON-LD contexts the validator must resolve, served from copies in the repo (tests/rocrate/README.md)
CONTEXTS = {"https://w3id.org/ro/crate/1.1/context": ROOT / "tests/rocrate/ro-crate-1.1-context.jsonld"}
# any request that still tried the network would meet a closed port (the discard port) instead of the internet
NO_NETWORK = {**dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), "http://127.0.0.1:9"),
              "NO_PROXY": "", "no_proxy": ""}


@pytest.fixture(scope="session")
def validate_crate(tmp_path_factory):
    """validate(crate_dir, severity="REQUIRED", skip=()): the sorted ids of the checks an unpacked crate fails
    with roc-validator's workflow-run-crate-0.5 profile, run offline (`--offline --cache-path`) from an HTTP cache
    seeded with CONTEXTS: the validator has no copy of the RO-Crate context and w3id.org is not reachable here."""
    from requests.adapters import HTTPAdapter
    from requests_cache import CachedSession
    from rocrate_validator import models, services
    from urllib3 import HTTPResponse

    class LocalContexts(HTTPAdapter):
        def send(self, request, **kwargs):
            body = CONTEXTS[request.url].read_bytes()
            return self.build_response(request, HTTPResponse(
                body=io.BytesIO(body), status=200, preload_content=False, request_url=request.url,
                headers={"Content-Type": "application/ld+json"}))

    cache = tmp_path_factory.mktemp("rocrate-validator") / "http_cache"
    # the cache settings of rocrate_validator/utils/http.py (HttpRequester), so that it finds these entries
    with CachedSession(cache_name=str(cache), backend="sqlite", expire_after=-1, allowable_methods=("GET",),
                       allowable_codes=(200, 302, 404)) as session:
        session.mount("https://", LocalContexts())
        for url in CONTEXTS:
            session.get(url).raise_for_status()

    def validate(crate_dir, severity="REQUIRED", skip=()):
        settings = services.ValidationSettings(
            rocrate_uri=str(crate_dir), profile_identifier="workflow-run-crate-0.5",
            requirement_severity=models.Severity[severity], offline=True, cache_path=str(cache),
            skip_checks=list(skip))
        with mock.patch.dict(os.environ, NO_NETWORK), warnings.catch_warnings():
            # rdflib 7.6's own JSON-LD parser still builds the ConjunctiveGraph it deprecates: not ours to fix
            warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
            result = services.validate(settings)
        return sorted({issue.check.identifier for issue in result.get_issues()})

    return validate
