"""A Redis Cluster of 3 masters, started by the tests themselves on free loopback ports.

`start()` runs three `redis-server --cluster-enabled yes` in a temporary directory, joins them
with `redis-cli --cluster create ... --cluster-yes`, waits (bounded) until every slot is served,
and returns a handle whose `stop()` kills the servers and removes the directory.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 30.0


def available() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _free_port() -> int:
    # A cluster node also listens on port + 10000 (its bus): pick ports whose bus is free too.
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536:
            with socket.socket() as s, contextlib.suppress(OSError):
                s.bind(("127.0.0.1", port + 10000))
                return int(port)
    raise RuntimeError("no free port pair for a Redis Cluster node")


@dataclass
class Cluster:
    ports: list[int]
    directory: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def cli(self, *args: str, port: int | None = None, timeout: float = 10) -> str:
        command = ["redis-cli", "-h", "127.0.0.1", "-p", str(port or self.ports[0]), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        return done.stdout

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes.clear()
        shutil.rmtree(self.directory, ignore_errors=True)


def start(masters: int = 3) -> Cluster:
    directory = Path(tempfile.mkdtemp(prefix="edgekv-redis-cluster-"))
    cluster = Cluster([], directory)
    try:
        for _ in range(masters):
            port = _free_port()
            node = directory / str(port)
            node.mkdir()
            cluster.processes.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", str(node / "nodes.conf"),
                        "--cluster-node-timeout", "5000",
                        "--dir", str(node),
                        "--save", "",
                        "--appendonly", "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            cluster.ports.append(port)
        deadline = time.monotonic() + START_TIMEOUT
        for port in cluster.ports:
            while cluster.cli("ping", port=port).strip() != "PONG":
                _wait(deadline, "a cluster node to answer")
        subprocess.run(
            [
                "redis-cli", "--cluster", "create",
                *(f"127.0.0.1:{p}" for p in cluster.ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            capture_output=True,
            timeout=START_TIMEOUT,
            check=True,
        )  # fmt: skip
        for port in cluster.ports:
            while "cluster_state:ok" not in cluster.cli("cluster", "info", port=port):
                _wait(deadline, "the cluster to serve every slot")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait(deadline: float, what: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"gave up waiting for {what}")
    time.sleep(0.05)
