"""Print which rounds are done, pending or failed, as a model x condition x seed x round table.

    .venv/bin/python scripts/status.py [snakemake options, e.g. --configfile my.yaml -d workdir]
"""

import argparse
import subprocess
import sys
from pathlib import Path

from selftrain.status import failed_outputs, incomplete_outputs, status_table, target_states

SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-d", "--directory", default=".", help="Snakemake working directory")
    args, rest = ap.parse_known_args(argv)
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), "-s", str(SNAKEFILE), "-d", args.directory, "--summary", *rest]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        return proc.returncode
    unfinished = failed_outputs(args.directory) | incomplete_outputs(args.directory)
    states = target_states(proc.stdout, unfinished)
    sys.stdout.write(status_table(states))
    return 0


if __name__ == "__main__":
    sys.exit(main())
