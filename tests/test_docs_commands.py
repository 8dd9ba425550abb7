"""Every command the documentation shows in a ```bash block works as written from the repository root: a workflow
command dry-runs (its own arguments, in its order, plus -n; one dry run per distinct command), a local run names
--cores (Snakemake 9 refuses a local run without it, and a dry run would not show that), a cheap script runs for
real, a script that needs a finished run accepts the options shown, a make target's recipe exists and the workflow
command in it dry-runs. A command that fits none of these fails the test until it is classified here."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_docs import PAGES, ROOT
from workflow_runs import jobs_of

pytestmark = pytest.mark.slow  # the paper preset's dry runs take tens of seconds each

VENV_BIN = Path(sys.executable).parent
# scripts that run in seconds on a fresh checkout: run them as shown
CHEAP = {"scripts/cost_plan.py", "scripts/memory_plan.py", "scripts/status.py", "scripts/check_config.py",
         "scripts/docs.py"}
# scripts that read a finished run (results/, an archive): the options shown must be theirs (--help lists them)
NEED_A_RUN = {"scripts/compare_reference.py", "scripts/kernel_spread.py", "scripts/verify_manifest.py",
              "scripts/reproduce_archive.py"}
# make targets that are cheap on a fresh checkout; the others are read with make -n
CHEAP_MAKE = {"dry-run", "status"}
# commands for another machine or an archive, not this checkout: why each is not run here
NOT_HERE = {
    "python3": "creates the cluster's venv", "python3.13": "creates the cluster's venv (its Python)",
    ".venv/bin/pip": "installs the cluster's pins into it (network)",
    "pip": "installs requirements-olmes.txt into the activated cluster venv (network)",
    "source": "activates that venv", "squeue": "a cluster's queue",
    "sacct": "a cluster's accounting", "tar": "unpacks an archive a run made", "cd": "enters that archive",
    "rocrate-validator": "a test-only tool, run on an archive by tests/test_archive.py", "zip": "packs that archive",
}


def commands():
    """(page, command) of every command line of every ```bash block: comments dropped, && split."""
    found = []
    for page in PAGES:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                for part in " ".join(shlex.split(line, comments=True)).split(" && "):
                    if part.strip():
                        found.append((page.relative_to(ROOT).as_posix(), part.strip()))
    return found


COMMANDS = commands()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The repository as a user has it, with no results; .venv points at this interpreter's environment."""
    dest = tmp_path_factory.mktemp("docs") / "selftrain-collapse"
    shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "results", ".snakemake", "__pycache__", ".pytest_cache", ".pip-cache*"))
    (dest / ".venv").symlink_to(VENV_BIN.parent)
    return dest


_DRY_RUNS: dict = {}


def run(args, cwd, timeout=600):
    # SLURM_CONF to no file: the local Slurm another test file may have started is not this user's cluster (its
    # partition limits would judge the paper preset); without it the limits come from config keys only
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PATH=f"{VENV_BIN}:{os.environ['PATH']}",
               SLURM_CONF="/nonexistent/slurm.conf")
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def dry_run(argv: list[str], checkout: Path) -> dict:
    """The command's own arguments plus -n (shared by commands that differ only in -n): its jobs."""
    from snakemake.cli import get_argument_parser

    args = argv[1:]
    parsed = get_argument_parser().parse_args(args)  # an option Snakemake does not know fails here
    dry = parsed.dryrun
    if not (dry or parsed.profile or parsed.executor not in (None, "local")):
        assert parsed.cores is not None, f"{shlex.join(argv)}: a local run needs --cores (Snakemake 9)"
    key = tuple(a for a in args if a not in ("-n", "--dry-run", "--dryrun"))
    if key not in _DRY_RUNS:
        proc = run([str(VENV_BIN / "snakemake"), *args, *([] if dry else ["-n"])], checkout)
        assert proc.returncode == 0, f"{shlex.join(argv)}:\n{(proc.stdout + proc.stderr)[-3000:]}"
        _DRY_RUNS[key] = jobs_of(proc.stdout)
    return _DRY_RUNS[key]


def test_the_docs_show_commands():
    """The README's entry points are among them (the parser found the blocks)."""
    shown = {c for _, c in COMMANDS}
    assert "make run" in shown and "make test" in shown
    assert "snakemake --profile slurm all --configfile configs/paper.yaml" in shown


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_a_documented_command_works_as_written(page, command, checkout):
    argv = shlex.split(command)
    program = argv[0]
    if program in ("snakemake", ".venv/bin/snakemake"):
        jobs = dry_run(argv, checkout)
        if not {"-n", "--dry-run"} & set(argv) and "results/data/hub_fetched.json" not in argv:
            # a run the docs give builds the reading and the manifest, not the figure alone
            assert jobs.get("reading") == jobs.get("manifest") == 1, f"{command}: {jobs}"
    elif program == "make":
        assert len(argv) == 2, command
        target = argv[1]
        if target in CHEAP_MAKE:
            # -o: the venv counts as set up (make would otherwise reinstall a shared one)
            proc = run(["make", "-o", ".venv/.installed", target], checkout)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        else:
            proc = run(["make", "-n", target], checkout)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            for line in proc.stdout.splitlines():
                if line.startswith(".venv/bin/snakemake") and "--lint" not in line:
                    dry_run(shlex.split(line), checkout)  # make run's: it names results/manifest.json itself
    elif program in (".venv/bin/python", "python"):
        script = re.sub(r"^code/", "", argv[1])  # an archive's code/ is the repository as it ran
        assert (ROOT / script).is_file(), command
        if script in CHEAP:
            proc = run([sys.executable, script, *argv[2:]], checkout)
            assert proc.returncode == 0, f"{command}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        else:
            assert script in NEED_A_RUN, f"{command}: classify the script in CHEAP or NEED_A_RUN"
            usage = run([sys.executable, script, "--help"], checkout)
            assert usage.returncode == 0, usage.stderr
            for option in [a.split("=")[0] for a in argv[2:] if a.startswith("--")]:
                assert option in usage.stdout, f"{command}: {script} has no {option}"
    else:
        assert program in NOT_HERE, f"{page}: {command}: run it here or say in NOT_HERE why not"
        for path in [a for a in argv[1:] if re.fullmatch(r"[\w.-]+\.(txt|yaml)", a)]:
            assert (ROOT / path).is_file(), f"{command}: {path} is not in the repository"
