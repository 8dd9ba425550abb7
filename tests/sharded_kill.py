"""Run under torchrun by test_sharded_training: a pre-training job whose every process stops (like SIGKILL,
but at a known point) right after the log line that starts with argv[2]."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from selftrain.round_training import JOBS  # noqa: E402


class Killed(Exception):
    pass


def log(line):
    if str(line).startswith(sys.argv[2]):
        raise Killed(line)


if __name__ == "__main__":
    import json

    import torch.distributed as dist

    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        JOBS[spec["job"]](spec, log=log)
    except Killed:
        sys.exit(3)
    finally:
        dist.destroy_process_group()
