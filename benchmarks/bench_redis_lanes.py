"""Issue 11 figure: the Redis store's own lanes (stores/redis/nodes.py) against redis-py's API.

The store sends its write and feed-read scripts to each node. Through its lane, calls are
pipelined on one connection per node, packed by hiredis and answered by a protocol of its own
(which drives redis-py's private internals). Through redis-py's public API, each call takes a
connection of the node's pool and is sent and read by redis-py: `node` is the cluster node's
own `execute_command`, `cluster` is `RedisCluster.execute_command(..., target_nodes=node)`.

Same run, one Redis Cluster (3 masters on loopback, started here), interleaved rounds, medians:

- `store.put` from 32 concurrent tasks (the store batches them per master), and
  `store.changes` finding 32 new changes and finding none: client CPU per call (this
  process's CPU, so the servers' work is not in it) and calls per second;
- `ns.put` through an in-process edge (AsyncKV with edge_cache, following the feed);
- PUT through `edgekv serve`'s app (benchmarks/server_redis_edge.py, one process per path,
  without auth) loaded by wrk with 32 connections: the edge process's CPU per PUT.

Each line gives the lane's ratio to each public path; the last, whether the lane still saves
the edge a tenth of its CPU per PUT (else redis-py's public path should replace it).
`python -m benchmarks redis_lanes`;
EDGEKV_BENCH_ROUNDS (default 5) and EDGEKV_BENCH_SECONDS (default 4, each wrk run).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvloop

import edgekv
from benchmarks import server_procs, server_wrk
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.model import EntryWrite
from edgekv.stores.redis._async.redis_store import AsyncRedisStore

ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "5"))
SECONDS = float(os.environ.get("EDGEKV_BENCH_SECONDS", "4"))
PUTS = 4000  # per round and path
CONCURRENCY = 32
READS = 400  # feed reads per round and path
NEW = 32  # changes a feed read finds (a follower under a write load)
VALUE = b"v" * 100
# The lane is worth owning while it saves the edge at least a tenth of its CPU per PUT
# through the server (issue 11: a few percent is not worth a protocol client of our own).
KEEP_LANE_IF = 0.9


class ClusterCommand:
    """`RedisCluster.execute_command(..., target_nodes=node)`: the client's documented way to
    send a command to one node (the plain client's execute_command without a cluster)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def call(self, node: Any, *command: Any) -> Any:
        if node is None:
            return await self.client.execute_command(*command)
        return await self.client.execute_command(*command, target_nodes=node)

    async def aclose(self) -> None:
        pass


class NodeCommand(ClusterCommand):
    """The cluster node's own `execute_command`: the public path with the least work."""

    async def call(self, node: Any, *command: Any) -> Any:
        if node is None:
            return await self.client.execute_command(*command)
        return await node.execute_command(*command)


# How the store's scripts reach a node: its own lane (None: the store as it is), or redis-py.
PATHS: dict[str, Callable[[Any], Any] | None] = {
    "lane": None,
    "node": NodeCommand,
    "cluster": ClusterCommand,
}
LABELS = {
    "lane": "lane",
    "node": "redis-py ClusterNode.execute_command",
    "cluster": "redis-py RedisCluster.execute_command(target_nodes=)",
}


@dataclass
class Sample:
    cpu: float  # seconds of the client's CPU per call
    wall: float  # seconds per call (the inverse of throughput)


async def _timed(calls: int, work: Awaitable[None]) -> Sample:
    cpu, wall = time.process_time(), time.perf_counter()
    await work
    return Sample((time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls)


async def _puts(put: Callable[[str], Awaitable[object]], round_no: int) -> None:
    per_task = PUTS // CONCURRENCY

    async def writer(t: int) -> None:
        for i in range(per_task):
            await put(f"k{round_no}:{t}:{i}")

    await asyncio.gather(*(writer(t) for t in range(CONCURRENCY)))


async def _reads(store: AsyncRedisStore, position: str, expect: int) -> None:
    for _ in range(READS):
        page = await store.changes(position, 1000)
        assert len(page.changes) == expect


class InProcess:
    """One path's store, and an in-process edge over a store of its own."""

    def __init__(self, url: str, nodes: Callable[[Any], Any] | None) -> None:
        self.store = AsyncRedisStore(url)
        self.edge_central = AsyncRedisStore(url)
        if nodes is not None:
            self.store._nodes = nodes(self.store.client)
            self.edge_central._nodes = nodes(self.edge_central.client)

    async def open(self) -> None:
        account = uuid.uuid4().hex
        self.nsid = (await self.store.create_namespace("lanes", account)).id
        self.edge_nsid = (await self.edge_central.create_namespace("at an edge", account)).id

    async def store_put(self, key: str) -> None:
        await self.store.put(self.nsid, EntryWrite(key, VALUE, size=len(VALUE)))

    async def edge_puts(self, round_no: int) -> Sample:
        """Puts through an edge as AsyncKV(url, edge_cache=...) opens it (exclusive: its feed
        reads leave out its own changes), following the feed only while it is measured."""
        edge = AsyncEdgeStore(self.edge_central, cache_size=64 << 20, exclusive=True)
        ns = await edgekv.AsyncKV(edge).namespace(self.edge_nsid)

        async def put(key: str) -> None:
            await ns.put(key, VALUE)

        try:
            return await _timed(PUTS, _puts(put, round_no))
        finally:
            await edge.stop_following()

    async def feed(self, round_no: int) -> tuple[Sample, Sample]:
        """Feed reads that find `NEW` changes, then reads that find none."""
        position = await self.store.feed_position()
        for i in range(NEW):
            await self.store_put(f"feed{round_no}:{i}")
        some = await _timed(READS, _reads(self.store, position, NEW))
        end = await self.store.feed_position()
        return some, await _timed(READS, _reads(self.store, end, 0))

    async def aclose(self) -> None:
        await self.store.aclose()
        await self.edge_central.aclose()


Samples = dict[str, dict[str, list[Sample]]]  # figure -> path -> one sample per round
FIGURES = {
    "store": f"store.put, {CONCURRENCY} concurrent",
    "edge": f"ns.put through an in-process edge, {CONCURRENCY} concurrent",
    "changes": f"store.changes finding {NEW} new changes",
    "idle": "store.changes finding none",
    "http": f"PUT through an edge server, {server_wrk.CONNECTIONS} connections (edge CPU)",
}


async def in_process_rounds(url: str, samples: Samples) -> None:
    paths = {name: InProcess(url, nodes) for name, nodes in PATHS.items()}
    try:
        for round_no in range(-1, ROUNDS):  # round -1 warms up
            for name, path in paths.items():
                if round_no < 0:
                    await path.open()
                found = {
                    "store": await _timed(PUTS, _puts(path.store_put, round_no)),
                    "edge": await path.edge_puts(round_no),
                }
                found["changes"], found["idle"] = await path.feed(round_no)
                if round_no >= 0:
                    for figure, sample in found.items():
                        samples[figure][name].append(sample)
    finally:
        for path in paths.values():
            await path.aclose()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux: /proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HttpEdge:
    """`edgekv serve`'s app over the cluster, its store on one path, in a process of its own."""

    def __init__(self, work: Path, url: str, path: str) -> None:
        command = [sys.executable, "-m", "benchmarks.server_redis_edge", url, path]
        env = server_procs._env(work)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(server_procs.ROOT), env.get("PYTHONPATH")])
        )
        self.served = server_procs.Served(f"edge {path}", command, work, env)
        with httpx.Client(base_url=self.served.url, timeout=30) as client:
            account = client.get("/client/v4/accounts").json()["result"][0]["id"]
            namespaces = f"/client/v4/accounts/{account}/storage/kv/namespaces"
            created = client.post(namespaces, json={"title": "lanes"}).json()["result"]
        self.values = f"{namespaces}/{created['id']}/values/"
        self.script = server_wrk.lua_script(
            work,
            f"put-{path}",
            headers={"Content-Type": "application/octet-stream"},
            method="PUT",
            key_path=self.values + "put:",
            body=VALUE,
        )

    def load(self, seconds: float) -> Sample:
        before = _cpu_seconds(self.served.pid)
        load = server_wrk.run(self.served.url + self.values, self.script, seconds)
        if load.errors:
            raise RuntimeError(f"{self.served.name}: {load.errors}")
        requests = load.rate * seconds  # wrk runs for `seconds`
        return Sample((_cpu_seconds(self.served.pid) - before) / requests, 1 / load.rate)


def http_rounds(cluster_url: str, run_id: str, samples: Samples) -> None:
    """PUTs through an edge server per path, each on a key prefix of its own (an edge reads
    no other's writes), loaded in turn."""
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-lanes-"))
    edges: dict[str, HttpEdge] = {}
    try:
        for i, path in enumerate(PATHS):
            url = f"{cluster_url}?prefix=edgekv-bench-{run_id}-{i}"
            edges[path] = HttpEdge(work, url, path)
        for edge in edges.values():  # warm-up
            edge.load(2.0)
        for _ in range(ROUNDS):
            for path, edge in edges.items():
                samples["http"][path].append(edge.load(SECONDS))
    finally:
        for edge in edges.values():
            edge.served.stop()


def report(samples: Samples) -> bool:
    """Prints each figure; True while the lane keeps its place (KEEP_LANE_IF)."""
    kept = True
    for figure, by_path in samples.items():
        if not by_path["lane"]:
            continue
        cpu = {name: statistics.median(s.cpu for s in found) for name, found in by_path.items()}
        rate = {
            name: 1 / statistics.median(s.wall for s in found) for name, found in by_path.items()
        }
        for name in by_path:
            line = (
                f"{FIGURES[figure]}, {LABELS[name]}: client CPU {cpu[name] * 1e6:.1f} us/call,"
                f" {rate[name]:,.0f} calls/s"
            )
            if name != "lane":
                line += (
                    f" | lane: {cpu['lane'] / cpu[name]:.2f} x its CPU per call,"
                    f" {rate['lane'] / rate[name]:.2f} x its throughput"
                )
            print(line, flush=True)
        if figure == "http":
            best = min(cpu[name] for name in by_path if name != "lane")
            kept = cpu["lane"] / best <= KEEP_LANE_IF
            print(
                f"the lane: {cpu['lane'] / best:.2f} x the edge's CPU per PUT of the best public"
                f" path (goal <= {KEEP_LANE_IF}: worth owning a protocol client)"
                f" {'PASS' if kept else 'MISS'}",
                flush=True,
            )
    return kept


def main() -> bool:
    from tests import redis_cluster

    if not redis_cluster.available():
        print("(redis-server not installed: no Redis figures)")
        return False
    samples: Samples = {figure: {name: [] for name in PATHS} for figure in FIGURES}
    run_id = uuid.uuid4().hex[:8]
    cluster = redis_cluster.start()
    try:
        print(f"(Redis Cluster of 3 masters on loopback, uvloop, {ROUNDS} rounds, medians)")
        uvloop.run(in_process_rounds(f"{cluster.url}?prefix=edgekv-bench-{run_id}", samples))
        if server_wrk.available():
            http_rounds(cluster.url, run_id, samples)
        else:
            print("(wrk is not installed: no figure through the edge server)")
        return report(samples)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
