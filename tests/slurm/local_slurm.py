"""A real one-node Slurm on loopback for the tests: munged, MariaDB, slurmdbd, slurmctld and slurmd from
Debian's packages, started in the foreground as children of this process and stopped by their PIDs."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")  # srun inside a job finds its config only here
SYSTEM_GRES = Path("/etc/slurm/gres.conf")  # slurmd reads gres.conf beside the slurm.conf it was given
LOCK = Path("/run/lock/selftrain-local-slurm.lock")  # one test cluster per machine at a time
STATE_PREFIX = "selftrain-slurm-"
PACKAGES = "slurm-wlm slurmdbd munge mariadb-server"
BINARIES = ("munged", "mungekey", "mariadb-install-db", "mariadbd", "mariadb-admin", "slurmdbd",
            "slurmctld", "slurmd", "sbatch", "srun", "sacct", "sacctmgr", "scontrol", "sinfo", "squeue")


def missing_binaries() -> list[str]:
    """The Slurm stack's executables not on PATH (empty when the packages are installed)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [b for b in BINARIES if shutil.which(b, path=path) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decode_address(hex_address: str) -> str:
    """/proc/net/tcp{,6}'s little-endian "0100007F:1F90" as "127.0.0.1:8080"."""
    ip, port = hex_address.split(":")
    raw = bytes.fromhex(ip)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw[::-1])}:{int(port, 16)}"
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}"


def wait_for(check, timeout: float, what: str, logs=(), proc=None):
    """Poll check() until it is true; on timeout, or when proc exits, raise with the tails of the logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        if check():
            return
        time.sleep(0.2)
    if proc is not None and proc.poll() is not None:
        what += f" exited with status {proc.returncode}, so is"
    tails = "\n".join(f"--- {p}:\n{Path(p).read_text(errors='replace')[-1500:]}" for p in logs if Path(p).exists())
    raise RuntimeError(f"local Slurm: {what} not ready after {timeout:.0f} s\n{tails}")


def ok(*cmd, env=None) -> bool:
    return subprocess.run(cmd, capture_output=True, timeout=20, env=env).returncode == 0


def run(*cmd, env=None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    return proc.stdout


class LocalSlurm:
    """One Slurm cluster with the partition, account and QOS a profile names; use as a context manager."""

    def __init__(self, partition: str, account: str | None, qos: str | None, extra_partitions=(), gpus: int = 4,
                 cpus: int = 0, mem_mb: int = 0):
        self.partition, self.account, self.qos = partition, account, qos
        self.node_cpus, self.node_mem_mb = cpus, mem_mb
        # a name, or a name and its slurm.conf options ("capped MaxTime=00:10:00")
        self.extra_partitions, self.gpus = [p for p in extra_partitions if p.split()[0] != partition], gpus
        self.daemons: list[tuple[str, subprocess.Popen]] = []
        self.state: Path | None = None
        self.lock_file = None
        self.linked_conf = False
        self.start_seconds = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Write the configs, start the five daemons in order and wait until a job could run."""
        t0 = time.monotonic()
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        self.lock_file = open(LOCK, "w")
        wait_for(self._try_lock, 300, f"lock {LOCK}")
        # munged refuses key and socket paths that other users can write to; pytest's tmp dirs are 0700
        self.state = Path(tempfile.mkdtemp(prefix=STATE_PREFIX, dir="/tmp"))
        self.state.chmod(0o755)
        s = self.state
        fill = {"state": s, "munge_socket": s / "munge/munge.socket", "ctld_port": free_port(),
                "slurmd_port": free_port(), "dbd_port": free_port(), "partition": self.partition, "gpus": self.gpus,
                "extra_partitions": "\n".join(
                    f"PartitionName={name} Nodes=localhost {options or 'MaxTime=INFINITE'} State=UP"
                    for name, _, options in (p.partition(" ") for p in self.extra_partitions)),
                "cpus": max(4, self.node_cpus, len(os.sched_getaffinity(0))),
                "mem_mb": max(self.node_mem_mb, self._node_mem_mb())}
        for name in ("slurm.conf", "slurmdbd.conf"):
            (s / name).write_text((HERE / name).read_text().format(**fill))
        (s / "slurmdbd.conf").chmod(0o600)
        # Slurm 22.05's gres/gpu registers 0 GPUs from a bare Count (tried: the node is drained, "gres/gpu count
        # reported lower than configured"): give each GPU a File, plain files here, never opened by a job (slurmd
        # logs that they are no character devices and counts them anyway)
        for i in range(self.gpus):
            (s / f"gpu{i}").touch()
        (s / "gres.conf").write_text(f"Name=gpu File={s}/gpu[0-{self.gpus - 1}]\n")
        for d in ("ctld", "slurmd"):
            (s / d).mkdir()
        self._link_system_conf(s / "slurm.conf")

        self._start_munge(s / "munge")
        db_env = self._start_mariadb(s / "mysql")
        # slurmdbd reads slurmdbd.conf from the folder of $SLURM_CONF
        dbd = self._spawn("slurmdbd", ["slurmdbd", "-D"], env=dict(db_env, SLURM_CONF=str(s / "slurm.conf")))
        wait_for(lambda: ok("sacctmgr", "-n", "show", "cluster"), 60, "slurmdbd", self._logs("slurmdbd"), dbd)
        self._add_accounting()
        ctld = self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
        wait_for(lambda: ok("scontrol", "ping"), 60, "slurmctld", self._logs("slurmctld"), ctld)
        slurmd = self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost"])
        wait_for(lambda: set(run("sinfo", "-h", "-N", "-o", "%T").split()) == {"idle"}, 60, "slurmd (node idle)",
                 self._logs("slurmd", "slurmctld"), slurmd)
        self.start_seconds = time.monotonic() - t0

    def _try_lock(self) -> bool:
        try:
            fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    @staticmethod
    def _node_mem_mb() -> int:
        """Most of the machine's memory, so that the jobs' requests fit (nothing enforces them here)."""
        total_kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        return int(total_kb / 1024 * 0.8)

    def _link_system_conf(self, conf: Path):
        """Point /etc/slurm/slurm.conf and gres.conf at ours; never replace a file this harness did not write."""
        for system in (SYSTEM_CONF, SYSTEM_GRES):
            if system.is_symlink() and STATE_PREFIX in os.readlink(system):
                system.unlink()  # left behind by a killed earlier run
            elif system.exists() or system.is_symlink():
                raise RuntimeError(f"{system} exists and was not written by this harness; refusing to replace it")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(conf)
        SYSTEM_GRES.symlink_to(conf.with_name("gres.conf"))
        self.linked_conf = True

    def _spawn(self, name: str, cmd: list[str], env=None, user=None):
        log = open(self.state / f"{name}.out", "w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, user=user, group=user,
                                start_new_session=True)
        self.daemons.append((name, proc))
        return proc

    def _logs(self, *names) -> list[Path]:
        return [self.state / f"{n}{ext}" for n in names for ext in (".log", ".out")]

    def _start_munge(self, d: Path):
        d.mkdir()
        d.chmod(0o711)  # munged wants its socket directory traversable by all, writable by none
        run("mungekey", "--create", "--keyfile", str(d / "munge.key"))
        shutil.chown(d, "munge", "munge")
        shutil.chown(d / "munge.key", "munge", "munge")
        (d / "munge.key").chmod(0o400)
        munged = self._spawn("munged", ["munged", "-F", f"--socket={d / 'munge.socket'}", f"--key-file={d / 'munge.key'}",
                               f"--pid-file={d / 'munged.pid'}", f"--log-file={d / 'munged.log'}",
                               f"--seed-file={d / 'munged.seed'}"], user="munge")
        wait_for(lambda: (d / "munge.socket").exists(), 30, "munged", self._logs("munged"), munged)

    def _start_mariadb(self, d: Path) -> dict:
        """MariaDB on a unix socket only (--skip-networking); root logs in by socket authentication."""
        sock = self.state / "mysqld.sock"
        run("mariadb-install-db", "--no-defaults", f"--datadir={d}", "--user=root", "--skip-test-db",
            "--auth-root-authentication-method=socket")
        db = self._spawn("mariadbd", ["mariadbd", "--no-defaults", f"--datadir={d}", f"--socket={sock}",
                                 "--skip-networking", f"--pid-file={self.state / 'mariadbd.pid'}", "--user=root",
                                 "--innodb-buffer-pool-size=64M", f"--log-error={self.state / 'mariadbd.log'}"])
        wait_for(lambda: ok("mariadb-admin", "--no-defaults", f"--socket={sock}", "ping"), 60, "mariadbd",
                 self._logs("mariadbd"), db)
        return dict(os.environ, MYSQL_UNIX_PORT=str(sock))  # libmariadb's socket for host "localhost"

    def _add_accounting(self):
        """Register the cluster, and the account and QOS the profile asks for, so sbatch -A/--qos match."""
        run("sacctmgr", "-i", "add", "cluster", "selftrain-ci")
        if self.qos and self.qos not in run("sacctmgr", "-n", "-P", "show", "qos", "format=name").split():
            run("sacctmgr", "-i", "add", "qos", self.qos)
        if self.account:
            run("sacctmgr", "-i", "add", "account", self.account, "cluster=selftrain-ci")
            run("sacctmgr", "-i", "add", "user", "root", f"account={self.account}", "cluster=selftrain-ci")

    def stop(self):
        """Cancel leftover jobs, then stop only the daemons started here (PID and /proc/PID/comm checked)."""
        if any(name == "slurmctld" and p.poll() is None for name, p in self.daemons):
            subprocess.run(["scancel", "--quiet", "-M", "selftrain-ci", "-u", "root"], capture_output=True, timeout=20)
        for name, proc in reversed(self.daemons):
            if proc.poll() is not None:
                continue
            try:
                comm = Path(f"/proc/{proc.pid}/comm").read_text().strip()
            except FileNotFoundError:
                continue
            if comm != name[:15]:
                continue  # not the process we started any more
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.daemons = []
        if self.linked_conf:
            for system in (SYSTEM_CONF, SYSTEM_GRES):
                if system.is_symlink() and os.readlink(system).startswith(str(self.state)):
                    system.unlink()
            self.linked_conf = False
        if self.state:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None
        if self.lock_file:
            self.lock_file.close()
            self.lock_file = None

    def listening(self) -> dict:
        """{daemon: sorted "address:port" of its listening TCP sockets}, read from /proc."""
        addresses = {}  # socket inode -> address
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    addresses[fields[9]] = decode_address(fields[1])
        found = {}
        for name, proc in self.daemons:
            inodes = []
            for fd in Path(f"/proc/{proc.pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except FileNotFoundError:
                    continue
                if target.startswith("socket:["):
                    inodes.append(target[8:-1])
            found[name] = sorted(addresses[i] for i in inodes if i in addresses)
        return found

    def sacct(self, *fields: str, duplicates: bool = False) -> list[dict]:
        """Allocations (not steps) of every job this cluster ran, one dict per job (duplicates: one per run of a
        requeued job, the earlier ones in state REQUEUED)."""
        out = run("sacct", "-a", "-X", "-n", "-P", "-M", "selftrain-ci", "-S", "2000-01-01",
                  *(["--duplicates"] if duplicates else []), "-o", ",".join(fields))
        return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line]
