"""Print the memory plan (GB per GPU of weights, gradients, optimizer state, activations) of every model and job
kind of a config, and whether it fits the configured gpu_memory_gb. Usage, from the repository root:

    .venv/bin/python scripts/memory_plan.py --configfile configs/paper.yaml
"""

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selftrain.config import validate_config  # noqa: E402
from selftrain.io import InputError  # noqa: E402
from selftrain.memory_plan import check_batches, check_memory, table  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config.yaml", help="the experiment's config (default config.yaml)")
    args = parser.parse_args(argv)
    try:
        config = validate_config(yaml.safe_load(Path(args.configfile).read_text()))
        check_batches(config)  # a batch that cannot be laid out has no plan
        print(table(config))
        check_memory(config)
    except InputError as e:
        print(f"{args.configfile}: {e}", file=sys.stderr)
        return 1
    print("fits: every planned job is within its gpu_memory_gb (kinds without one are not checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
