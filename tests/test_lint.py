"""The Snakemake code is snakefmt-clean and `snakemake --lint` finds nothing, both run from the repository
root as a user types them (`make test` is the CI)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# snakefmt formats shell: blocks with the shfmt binary of shfmt-py (its dependency), in the venv's bin
BIN = Path(sys.executable).parent


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    """python -m module args, from the repository root, with this interpreter's packages and tools."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_snakefmt_would_change_nothing():
    # exit status 1 when a file would change or fails to parse (snakefmt --check)
    proc = run("snakefmt", "--check", ".")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_snakemake_lint_finds_nothing():
    # snakemake/cli.py: `if any_lint: return False`, i.e. exit status 1 on any finding
    proc = run("snakemake", "--lint")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr
