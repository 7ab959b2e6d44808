"""Issue 4 figures: edges in front of each central store, and the edge tier in process.

- propagation: three `edgekv serve` edges over one central store (SQLite file, PostgreSQL,
  Redis Cluster); a value written at edge A, then the time from A's acknowledgement until edges
  B and C (which hold the old value in memory) serve the new one. Anchors: Workers KV's up to
  60 s and Vercel Edge Config's up to 10 s; goal p99 <= 25 ms on every store.
- PUT through an edge with 32 connections against a hot read at the same edge, same run (wrk):
  goal >= 0.4 x with Redis, >= 0.25 x with PostgreSQL.
- the in-process edge tier hit (`AsyncKV(..., edge_cache=...)`) against
  `cachetools.TTLCache.get`, same run: goal <= 2 x.

`python -m benchmarks edge`; EDGEKV_BENCH_WRITES sets the number of propagation samples,
EDGEKV_BENCH_STORES=sqlite,postgres,redis-cluster picks central stores, EDGEKV_BENCH_SECONDS
(default 6) and EDGEKV_BENCH_ROUNDS (default 3) the wrk runs (medians, interleaved).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cachetools
import httpx

import edgekv
from benchmarks import server_procs, server_wrk
from benchmarks.bench_server import report_rate
from benchmarks.harness import interleaved, report
from benchmarks.server_wrk import Load
from edgekv.cli.store_choice import sqlite_url

WRITES = int(os.environ.get("EDGEKV_BENCH_WRITES", "200"))
SECONDS = float(os.environ.get("EDGEKV_BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "3"))
POSTGRES = os.environ.get("EDGEKV_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
VALUE = b"v" * 100


def start_edge(work: Path, store_url: str, name: str) -> server_procs.Served:
    command = [server_procs.EDGEKV, "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--store", store_url, "--cache-size", "64MB"]
    return server_procs.Served(name, command, work, server_procs._env(work))


def token_for(work: Path, store_url: str) -> str:
    import subprocess

    done = subprocess.run(
        [server_procs.EDGEKV, "token", "create", "--store", store_url, "--name", "bench"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=server_procs._env(work),
        check=True,
        timeout=60,
    )
    return done.stdout.decode().strip()


@contextmanager
def central_stores(work: Path) -> Iterator[dict[str, str]]:
    """The central stores reachable here, by name -> store URL."""
    stores = {"sqlite": sqlite_url(work / "central.db")}
    run = uuid.uuid4().hex[:8]
    schema = f"edgekv_bench_{run}"
    try:
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3):
            stores["postgres"] = f"{POSTGRES}?schema={schema}"
    except Exception as e:  # benchmarks report what they could not run
        print(f"(PostgreSQL not reachable: {e}; no PostgreSQL figures)")
    cluster = None
    try:
        from tests import redis_cluster

        if redis_cluster.available():
            cluster = redis_cluster.start()
            stores["redis-cluster"] = f"{cluster.url}?prefix=edgekv-bench-{run}"
        else:
            print("(redis-server not installed: no Redis figures)")
        yield stores
    finally:
        if cluster is not None:
            cluster.stop()
        if "postgres" in stores:
            import psycopg

            with psycopg.connect(POSTGRES, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Edges:
    """Three edges over one central store, with a namespace, a token and HTTP clients."""

    def __init__(self, work: Path, store_url: str, name: str) -> None:
        self.token = token_for(work, store_url)
        self.served = [start_edge(work, store_url, f"{name} edge {i}") for i in "ABC"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        first = httpx.Client(base_url=self.served[0].url, headers=self.auth, timeout=30)
        account = first.get("/client/v4/accounts").json()["result"][0]["id"]
        created = first.post(
            f"/client/v4/accounts/{account}/storage/kv/namespaces",
            json={"title": f"bench-{uuid.uuid4().hex[:6]}"},
        ).json()["result"]
        first.close()
        self.values = f"/client/v4/accounts/{account}/storage/kv/namespaces/{created['id']}/values/"
        self.clients = [
            httpx.Client(base_url=s.url, headers=self.auth, timeout=30) for s in self.served
        ]

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for served in self.served:
            served.stop()


def propagation(edges: Edges, writes: int) -> list[float]:
    """Seconds from a write's acknowledgement at A until B and C each serve it (two samples)."""
    a, others = edges.clients[0], edges.clients[1:]
    key = edges.values + "propagation"
    a.put(key, content=b"0").raise_for_status()
    delays: list[float] = []
    for i in range(1, writes + 1):
        for client in others:  # B and C hold the previous value in memory
            while client.get(key).content != str(i - 1).encode():
                time.sleep(0.001)
        a.put(key, content=str(i).encode()).raise_for_status()
        acknowledged = time.perf_counter()
        seen: list[float] = []
        threads = [
            threading.Thread(target=_watch, args=(client, key, str(i).encode(), acknowledged, seen))
            for client in others
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        delays += seen
    return delays


def _watch(client: httpx.Client, key: str, want: bytes, since: float, seen: list[float]) -> None:
    """Reads `key` until it is `want`, then records the seconds since `since` (5 s at most)."""
    while time.perf_counter() < since + 5:
        if client.get(key).content == want:
            seen.append(time.perf_counter() - since)
            return
    seen.append(float("inf"))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report_propagation(store: str, delays: list[float]) -> bool:
    p50, p99 = statistics.median(delays), percentile(delays, 0.99)
    passed = p99 <= 0.025
    print(
        f"propagation, {store}: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms over "
        f"{len(delays)} reads (goal p99 <= 25 ms) {'PASS' if passed else 'MISS'} | "
        f"Workers KV up to 60 s: {60 / p99:,.0f} x faster at p99 | "
        f"Vercel Edge Config up to 10 s: {10 / p99:,.0f} x",
        flush=True,
    )
    return passed


def put_against_hot_read(edges: Edges, work: Path, goal: float, store: str) -> bool:
    edge = edges.served[0]
    edges.clients[0].put(edges.values + "hot", content=VALUE).raise_for_status()
    get = server_wrk.lua_script(work, f"get-{store}", headers=edges.auth)
    put = server_wrk.lua_script(
        work,
        f"put-{store}",
        headers={**edges.auth, "Content-Type": "application/octet-stream"},
        method="PUT",
        key_path=edges.values + "put:",
        body=VALUE,
    )
    runs: dict[str, Callable[[float], Load]] = {
        "get": lambda s: server_wrk.run(edge.url + edges.values + "hot", get, s),
        "put": lambda s: server_wrk.run(edge.url + edges.values, put, s),
    }
    medians = server_wrk.load_rounds(runs, ROUNDS, SECONDS)
    return report_rate(
        f"PUT through an edge, {store}, 32 connections",
        medians["put"],
        "hot read at the same edge",
        medians["get"],
        goal,
    )


def in_process_hit() -> bool:
    keys = [f"key:{i:05d}" for i in range(10_000)]
    value = VALUE.decode()
    ttl_cache: cachetools.TTLCache[str, str] = cachetools.TTLCache(maxsize=100_000, ttl=60)
    for k in keys:
        ttl_cache[k] = value
    loop = asyncio.new_event_loop()
    kv = edgekv.AsyncKV("memory://", edge_cache=64 << 20)

    async def setup() -> edgekv.AsyncNamespace:
        ns = await kv.create_namespace("hits")
        for k in keys:
            await ns.put(k, value)
        return ns

    ns = loop.run_until_complete(setup())

    async def edge_hits() -> None:
        for k in keys:
            await ns.get(k)

    def ttl_hits() -> None:
        for k in keys:
            ttl_cache.get(k)

    timed = interleaved(
        {
            "cachetools.TTLCache.get": ttl_hits,
            "edge hit": lambda: loop.run_until_complete(edge_hits()),
        },
        len(keys),
    )
    ok = report(
        "in-process edge tier hit (await ns.get(key), AsyncKV(edge_cache=64 MiB))",
        timed["edge hit"],
        [(timed["cachetools.TTLCache.get"], 2.0)],
    )
    loop.run_until_complete(kv.aclose())
    loop.close()
    return ok


def main() -> bool:
    ok = in_process_hit()
    if not server_wrk.available():
        print("wrk is not installed (Debian: apt-get install -y wrk; `make bench` does it)")
        return False
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-edge-"))
    only = set(filter(None, os.environ.get("EDGEKV_BENCH_STORES", "").split(",")))
    with central_stores(work) as stores:
        for store, url in stores.items():
            if only and store not in only:
                continue
            edges = Edges(work, url, store)
            try:
                ok &= report_propagation(store, propagation(edges, WRITES))
                if store == "postgres":
                    ok &= put_against_hot_read(edges, work, 0.25, store)
                elif store == "redis-cluster":
                    ok &= put_against_hot_read(edges, work, 0.4, store)
            finally:
                edges.close()
    return ok


if __name__ == "__main__":
    main()
