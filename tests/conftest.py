"""Shared fixtures: tiny real tokenizers and models built from text the tests write themselves."""

import io
import json
import os
import sys
import warnings
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

# `make test` runs pytest one make level down: MAKELEVEL/MAKEFLAGS would make every `make` a test runs print
# "Entering/Leaving directory" lines that a user's `make` from a shell does not (CI failed on one)
for _var in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
    os.environ.pop(_var, None)

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


# A finished end-to-end run that several test files read, made once per test session even across xdist workers
# (the pattern of xdist's docs, "Making session-scoped fixtures execute only once": a file lock in the folder the
# workers share). Only one file's tests change it (tests/test_workflow.py, on one worker: `--dist loadfile`), and
# they restore what they change or work on a copy; other files read the digests taken before any test ran.
class FinishedRun:
    """A finished run's work directory, and {path under results/: SHA-256} as the run left it (logs and timings
    aside)."""

    def __init__(self, path, outputs):
        self.path, self.outputs = path, outputs


def finished_once(tmp_path_factory, worker_id, name, make) -> FinishedRun:
    """make(work directory) run once per session (per machine-wide test session: every xdist worker waits for
    the first one's), then the run's directory and outputs."""
    from filelock import FileLock

    from workflow_runs import outputs

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    path, record = shared / name, shared / f"{name}.outputs.json"
    with FileLock(str(record) + ".lock"):
        if not record.is_file():
            path.mkdir(exist_ok=True)
            make(path)
            record.write_text(json.dumps(outputs(path)))
    return FinishedRun(path, json.loads(record.read_text()))


@pytest.fixture(scope="session")
def tiny_run_record(tmp_path_factory, worker_id):
    """workflow_runs.TINY run to its figure and manifest."""
    from workflow_runs import TINY, snakemake, write_config

    def make(wd):
        write_config(wd, TINY)
        snakemake(wd, "results/figures/collapse.pdf", "results/manifest.json")

    return finished_once(tmp_path_factory, worker_id, "tiny_run", make)


@pytest.fixture(scope="session")
def tiny_run(tiny_run_record):
    return tiny_run_record.path


# xdist: `make test` runs `-n 2 --dist loadfile`, a test file's tests on one worker (so a file's module and
# session fixtures, e.g. the finished runs above, are made once). Files whose tests take minutes go first, longest
# first (seconds measured 2026-12-02), so that no long file starts last and runs alone at the end.
LONG_FILES = ("test_workflow.py", "test_resume.py", "test_slurm.py", "test_grid.py", "test_bench.py", "test_reruns.py",
              "test_workflow_robustness.py", "test_presets.py", "test_sharded_training.py", "test_smoke.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: file order kept otherwise


def matmul_gflops(n: int = 1024, reps: int = 20) -> float:
    """fp32 n x n matmul GFLOP/s on 2 threads: the machine's speed, printed beside the suite's time (machines of
    this kind differ ~5x, and a loaded host shows here)."""
    import time

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(3):
            a @ b
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9
    finally:
        torch.set_num_threads(threads)


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist), once
        config._matmul_start = matmul_gflops()


def pytest_report_header(config):
    if hasattr(config, "_matmul_start"):
        return f"machine speed: fp32 1024x1024 matmul {config._matmul_start:.0f} GFLOP/s on 2 threads"


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "_matmul_start"):
        terminalreporter.write_line(f"machine speed: fp32 1024x1024 matmul {config._matmul_start:.0f} GFLOP/s on 2 "
                                    f"threads at the start, {matmul_gflops():.0f} at the end")
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
