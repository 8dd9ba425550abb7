"""What every step shares: the GPU count a job asked for, however it asked."""

import pytest

from selftrain.step import gpu_count


@pytest.mark.parametrize(("resources", "default", "count"), [
    ({"gpu": 4}, 0, 4), ({"gpu": 0, "gres": "gpu:a100:2"}, 0, 2), ({"gres": "gpu:3"}, 0, 3), ({"gres": "gpu"}, 0, 1),
    ({"gres": "shard:2,gpu:h100:8"}, 0, 8), ({"gres": "shard:2"}, 1, 1), ({}, 1, 1), ({"gpu": 0}, 0, 0)])
def test_gpu_count_reads_gpu_or_gres(resources, default, count):
    assert gpu_count(resources, default) == count
