"""What every step shares: the GPU count a job asked for, however it asked."""

import os

import pytest

from selftrain.resources import gpu_count


@pytest.mark.parametrize(("resources", "default", "count"), [
    ({"gpu": 4}, 0, 4), ({"gpu": 0, "gres": "gpu:a100:2"}, 0, 2), ({"gres": "gpu:3"}, 0, 3), ({"gres": "gpu"}, 0, 1),
    ({"gres": "shard:2,gpu:h100:8"}, 0, 8), ({"gres": "shard:2"}, 1, 1), ({}, 1, 1), ({"gpu": 0}, 0, 0)])
def test_gpu_count_reads_gpu_or_gres(resources, default, count):
    assert gpu_count(resources, default) == count


def job(config, evaluation=None):
    from types import SimpleNamespace

    return SimpleNamespace(config=config, params={"evaluation": evaluation} if evaluation else {})


def test_compute_jobs_are_offline_with_their_own_datasets_cache(monkeypatch, tmp_path):
    from selftrain.step import hub_environment

    for var in ("HF_HUB_CACHE", "HF_DATASETS_CACHE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)  # restored after the test
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # what a login shell may export into every Slurm job
    caches = []
    for _ in range(2):
        private = hub_environment(job({"hub_cache": str(tmp_path)}), offline=True)
        caches.append(private)
        assert os.environ["HF_HUB_OFFLINE"] == os.environ["HF_DATASETS_OFFLINE"] == "1"
        assert os.environ["HF_HUB_CACHE"] == str(tmp_path / "hub") and os.environ["HF_DATASETS_CACHE"] == private
    assert caches[0] != caches[1]
    for private in caches:
        os.rmdir(private)
    # a job scoring named lm-eval tasks reads the shared cache the fetch stage prepared
    named = {"downstream": {"tasks": [{"name": "arc_easy"}]}}
    assert hub_environment(job({"hub_cache": str(tmp_path)}, named), offline=True) is None
    assert os.environ["HF_DATASETS_CACHE"] == str(tmp_path / "datasets")
    # the fetch stage keeps the network
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert hub_environment(job({"hub_cache": str(tmp_path)}), offline=False) is None
    assert os.environ["HF_HUB_OFFLINE"] == "0"
