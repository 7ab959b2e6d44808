"""A private Redis Cluster whose masters can be killed and restarted without losing writes.

tests/redis_cluster.py starts a cluster without persistence (fast, for the conformance suite);
a restart of one of its masters would lose that master's data. Here every node keeps an AOF
(`appendfsync always`): a write Redis acknowledged is in the file before the reply, so a
master killed with SIGKILL comes back with it. Node ids and slots live in nodes.conf, so the
restarted node rejoins as the same master.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests import redis_cluster

_NODE_TIMEOUT_MS = 15000  # a master away for less than this is not declared failed


class PersistentCluster(redis_cluster.Cluster):
    def argv(self, port: int) -> list[str]:
        node = self.directory / str(port)
        return [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node / "nodes.conf"),
            "--cluster-node-timeout", str(_NODE_TIMEOUT_MS),
            "--dir", str(node),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
        ]  # fmt: skip

    def spawn(self, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def kill_master(self, index: int) -> None:
        """SIGKILL: no shutdown save, only what the AOF already holds survives."""
        process = self.processes[index]
        process.kill()
        process.wait(10)

    def start_master(self, index: int) -> None:
        port = self.ports[index]
        self.processes[index] = self.spawn(port)
        deadline = time.monotonic() + redis_cluster.START_TIMEOUT
        while "cluster_state:ok" not in self.cli("cluster", "info", port=port):
            redis_cluster._wait(deadline, "the restarted master to serve its slots")


def start(masters: int = 3) -> PersistentCluster:
    import tempfile

    cluster = PersistentCluster([], Path(tempfile.mkdtemp(prefix="edgekv-redis-edges-")))
    try:
        for _ in range(masters):
            port = redis_cluster._free_port()
            (cluster.directory / str(port)).mkdir()
            cluster.ports.append(port)
            cluster.processes.append(cluster.spawn(port))
        deadline = time.monotonic() + redis_cluster.START_TIMEOUT
        for port in cluster.ports:
            while cluster.cli("ping", port=port).strip() != "PONG":
                redis_cluster._wait(deadline, "a cluster node to answer")
        subprocess.run(
            [
                "redis-cli", "--cluster", "create",
                *(f"127.0.0.1:{p}" for p in cluster.ports),
                "--cluster-replicas", "0", "--cluster-yes",
            ],
            capture_output=True,
            timeout=redis_cluster.START_TIMEOUT,
            check=True,
        )  # fmt: skip
        for port in cluster.ports:
            while "cluster_state:ok" not in cluster.cli("cluster", "info", port=port):
                redis_cluster._wait(deadline, "the cluster to serve every slot")
    except BaseException:
        cluster.stop()
        raise
    return cluster
