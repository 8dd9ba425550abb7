"""Print the cost plan of a config: per model and kind of job the jobs, tokens, FLOPs, the throughput figure used,
hours per job, GPU-hours and the Slurm runtime; totals, wall time on --gpus GPUs, every figure with its source and
every estimate. Usage, from the repository root:

    .venv/bin/python scripts/cost_plan.py --configfile configs/paper.yaml [--gpus 64]
        [--models olmo2-1b] [--rounds 2] [--seeds 1] [--axis filter=none,ppl_q50] [--conditions NAME,...] [--gpu a100]
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selftrain.config import check_paths, read_config_file, validate_config  # noqa: E402
from selftrain.cost_plan import plan, subset, table  # noqa: E402
from selftrain.io import InputError  # noqa: E402


def axis(text: str) -> tuple[str, list[str]]:
    name, _, labels = text.partition("=")
    if not labels:
        raise argparse.ArgumentTypeError(f"{text!r}: write AXIS=LABEL[,LABEL...], e.g. filter=none,ppl_q50")
    return name, labels.split(",")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="config.yaml", help="the experiment's config (default config.yaml)")
    parser.add_argument("--gpus", type=int, help="print the wall time on this many GPUs")
    parser.add_argument("--gpu", help="plan GPU jobs on this GPU model (config key cost.gpu)")
    parser.add_argument("--models", type=lambda s: s.split(","),
                        help="train only these models (comma-separated; their conditions' teachers and scorers stay)")
    parser.add_argument("--rounds", type=int, help="only this many rounds")
    parser.add_argument("--seeds", type=int, help="only the first this many seeds")
    parser.add_argument("--axis", type=axis, action="append", default=[],
                        help="only these labels of a grid axis, AXIS=LABEL[,LABEL...] (repeatable)")
    parser.add_argument("--conditions", type=lambda s: s.split(","), help="only these conditions (grid points too)")
    args = parser.parse_args(argv)
    try:
        raw = subset(read_config_file(args.configfile), args.models, args.rounds, args.seeds, dict(args.axis),
                     args.conditions)
        if args.gpu:
            raw.setdefault("cost", {})["gpu"] = args.gpu
        config = validate_config(raw)
        check_paths(config)
        print(table(config, plan(config), args.gpus))
    except InputError as e:
        print(f"{args.configfile}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
