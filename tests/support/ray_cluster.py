"""A real two-node Ray cluster on this machine, for the tests: two hosts in network namespaces.

Ray (``RAY_VERSION`` from PyPI) goes into a virtual environment of its own, cached outside the
clone (``~/.cache/counterpoint/ray-<version>-py<X.Y>-<lock hash>``, made once under a file lock
from the project's ``requirements.lock`` plus Ray), so the project's default install stays light.
The project's own code comes from the checkout (``PYTHONPATH``), on both nodes and in the
coordinator.

Each node is a host of its own: a network namespace, joined to the other by a veth pair, with an
address of the tests' choosing and ``lo`` up. The head and the worker are started with
``ray start`` (1 CPU each, no dashboard, usage stats off, node death noticed within seconds);
the coordinator (the CLI) runs inside the head's namespace, as a driver on that node. Stopping
kills the namespaces' processes, then deletes the namespaces (``ray stop`` would stop every Ray
on the machine).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAY_VERSION = "2.60.0"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "counterpoint"
PORT = 6380
QUICK_DEATH = {
    # a node whose processes are killed is declared dead in a few seconds, not half a minute
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def _run(*args: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def ray_python() -> Path:
    """The Python of the cached environment with Ray (made now if missing)."""
    lock_text = (ROOT / "requirements.lock").read_bytes()
    key = hashlib.sha256(lock_text + RAY_VERSION.encode()).hexdigest()[:12]
    major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    venv = CACHE / f"ray-{RAY_VERSION}-py{major_minor}-{key}"
    python = venv / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "ray-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return python
        for stale in CACHE.glob("ray-*-py*"):  # made for another lock or Ray: 400 MB each
            shutil.rmtree(stale, ignore_errors=True)
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        if Path(uv).exists():
            _run(uv, "venv", "-q", "--python", sys.executable, str(venv))
            env = {**os.environ, "VIRTUAL_ENV": str(venv)}
            _run(
                uv, "pip", "install", "-q", "--require-hashes", "-r", str(ROOT / "requirements.lock"), env=env
            )
            _run(uv, "pip", "install", "-q", f"ray=={RAY_VERSION}", env=env)
        else:
            _run(sys.executable, "-m", "venv", str(venv))
            _run(
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--require-hashes",
                "-r",
                str(ROOT / "requirements.lock"),
            )
            _run(str(python), "-m", "pip", "install", "-q", f"ray=={RAY_VERSION}")
        (venv / ".complete").write_text(RAY_VERSION)
    return python


def ensure_ip() -> None:
    if shutil.which("ip") is None:  # Debian's iproute2 (the image has it; a bare machine may not)
        _run("apt-get", "update", "-q")
        _run("apt-get", "install", "-y", "-q", "iproute2")


@dataclass
class Host:
    netns: str
    address: str
    workdir: Path


@dataclass
class RayCluster:
    """Two hosts (head and worker), Ray on both; `run` runs a command on the head as a driver."""

    python: Path
    folder: Path
    head: Host
    worker: Host
    veth: tuple[str, str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.head.address}:{PORT}"

    def base_env(self, host: Host) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT / "protocol")]),
            "COUNTERPOINT_RAY_WORKDIR": str(host.workdir),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_ADDRESS": self.address,
            **QUICK_DEATH,
            **self.env,
        }

    def _ray(self, host: Host, *args: str) -> None:
        ray = str(self.python.parent / "ray")
        done = _run(
            "ip", "netns", "exec", host.netns, ray, "start", *args, check=False, env=self.base_env(host)
        )
        if done.returncode != 0:
            raise RuntimeError(f"ray start on {host.netns} failed:\n{done.stdout}\n{done.stderr}")

    def start_head(self) -> None:
        self._ray(
            self.head,
            "--head",
            f"--port={PORT}",
            "--num-cpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={self.folder / 'ray'}",
            f"--node-ip-address={self.head.address}",
            "--object-store-memory=100000000",
            '--resources={"head_host": 1}',
        )

    def start_worker(self) -> None:
        self._ray(
            self.worker,
            f"--address={self.address}",
            "--num-cpus=1",
            "--disable-usage-stats",
            f"--node-ip-address={self.worker.address}",
            "--object-store-memory=100000000",
            '--resources={"worker_host": 1}',
        )

    def kill(self, host: Host) -> None:
        """Every process of the host, at once (a machine that dies)."""
        for _ in range(5):
            pids = [int(p) for p in _run("ip", "netns", "pids", host.netns, check=False).stdout.split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def pids(self, host: Host) -> list[int]:
        return [int(p) for p in _run("ip", "netns", "pids", host.netns, check=False).stdout.split()]

    def driver(self, *args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
        """``python *args`` on the head, as a driver of the cluster (the coordinator)."""
        return subprocess.Popen(  # type: ignore[call-overload]
            ["ip", "netns", "exec", self.head.netns, str(self.python), *args],
            env={**self.base_env(self.head), **(env or {})},
            text=True,
            **kw,
        )

    def on(self, host: Host, *args: str, **kw: object) -> subprocess.Popen[str]:
        """``args`` on ``host`` (its network namespace), with the nodes' environment."""
        return subprocess.Popen(  # type: ignore[call-overload]
            ["ip", "netns", "exec", host.netns, *args], env=self.base_env(host), text=True, **kw
        )

    def stop(self) -> None:
        for host in (self.worker, self.head):
            self.kill(host)
            _run("ip", "netns", "del", host.netns, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> RayCluster:
    ensure_ip()
    python = ray_python()
    tag = f"{os.getpid() % 100000}"
    folder = Path(tempfile.mkdtemp(prefix="cpray-", dir="/tmp"))  # short: Ray's socket paths
    head = Host(f"cp{tag}h", "10.213.7.1", folder / "node-head")
    worker = Host(f"cp{tag}w", "10.213.7.2", folder / "node-worker")
    veth = (f"cp{tag}vh", f"cp{tag}vw")
    cluster = RayCluster(python, folder, head, worker, veth)
    try:
        for host in (head, worker):
            _run("ip", "netns", "add", host.netns)
        _run("ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1])
        for host, end in ((head, veth[0]), (worker, veth[1])):
            _run("ip", "link", "set", end, "netns", host.netns)
            _run("ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", end)
            _run("ip", "-n", host.netns, "link", "set", end, "up")
            _run("ip", "-n", host.netns, "link", "set", "lo", "up")
            host.workdir.mkdir(parents=True)
        cluster.start_head()
        cluster.start_worker()
    except BaseException:
        cluster.stop()
        raise
    return cluster
