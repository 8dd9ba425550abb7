"""make test's system prerequisites, before any test runs: the executables of the one-node Slurm that
tests/test_slurm.py starts (Debian's slurm-wlm, slurmdbd, munge, mariadb-server) and g++ (torch inductor, for
the training.compile tests). Missing ones are installed with apt-get when this runs as root on Debian or Ubuntu;
anywhere else it stops with one message naming the packages and the switch that leaves the Slurm tests out.

    python tests/setup/system_packages.py      # exit 0: all there (or installed); exit 1: the message
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "slurm"))

from local_slurm import BINARIES, PACKAGES  # noqa: E402

SKIP = "SELFTRAIN_SKIP_SLURM"
COMPILER = ("g++", "g++")  # (executable, Debian package)


def needed() -> dict[str, str]:
    """{executable: Debian package} that make test needs here (the Slurm stack unless SELFTRAIN_SKIP_SLURM=1)."""
    slurm = {} if os.environ.get(SKIP) == "1" else {b: PACKAGES for b in BINARIES}
    return {**slurm, COMPILER[0]: COMPILER[1]}


def missing() -> dict[str, str]:
    """The needed executables not on PATH (sbin folders included, where Debian puts the daemons)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return {b: p for b, p in needed().items() if shutil.which(b, path=path) is None}


def debian_like(os_release: str) -> bool:
    """Whether /etc/os-release (its text) names Debian or a derivative (Ubuntu: ID_LIKE=debian)."""
    fields = dict(line.split("=", 1) for line in os_release.splitlines() if "=" in line)
    names = {fields.get("ID", "").strip('"')} | set(fields.get("ID_LIKE", "").strip('"').split())
    return bool(names & {"debian", "ubuntu"})


def packages_of(found: dict[str, str]) -> list[str]:
    return sorted({pkg for spec in found.values() for pkg in spec.split()})


def install(packages: list[str]) -> None:
    """apt-get install, with a policy-rc.d that keeps apt from starting the daemons (the tests start their own)."""
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True,
                       timeout=1200, env=env, stdout=subprocess.DEVNULL)
    finally:
        if ours:
            policy.unlink()


def main(os_release: str = "/etc/os-release") -> int:
    found = missing()
    if not found:
        return 0
    packages = packages_of(found)
    release = Path(os_release).read_text() if Path(os_release).is_file() else ""
    if os.geteuid() == 0 and shutil.which("apt-get") and debian_like(release):
        print(f"make test: installing {' '.join(packages)} with apt-get", file=sys.stderr)
        install(packages)
        found = missing()
        if not found:
            return 0
        packages = packages_of(found)
        why = f"apt-get installed them, but {', '.join(sorted(found))} are still not on PATH"
    else:
        why = "not root" if os.geteuid() != 0 else "not Debian or Ubuntu" if not debian_like(release) else "no apt-get"
        why += ", so they cannot be installed here"
    print(f"make test needs the system packages {' '.join(packages)} ({why}): install them (as root: apt-get "
          f"install {' '.join(packages)}), or set {SKIP}=1 to leave out the Slurm tests (g++ is still needed)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(os.environ.get("SELFTRAIN_OS_RELEASE", "/etc/os-release")))
