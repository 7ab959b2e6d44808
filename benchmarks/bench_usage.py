"""Issue 13 figure: what counting usage costs a hot GET, on and off in the same run.

Two measures, each with counting on against counting off:

- `edgekv serve` against `edgekv serve --no-usage` on the same data dir and hot key (a 100-byte
  value its edge answers from memory), loaded by wrk (2 threads, 32 connections) in interleaved
  rounds: the servers' CPU per request (what counting costs them, however busy the machine),
  with throughput beside it (needs wrk; see bench_server).
- the same app called in-process (its ASGI entry, one hot GET after another, no sockets): the
  CPU a request costs with and without its count, free of the network's noise, so the small
  difference shows on a busy machine too.

Goal: counting makes a hot GET at most 3 % slower (`x off (goal <= 1.03)`).
EDGEKV_BENCH_SECONDS (default 8) and EDGEKV_BENCH_ROUNDS (default 3) set the wrk runs.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from benchmarks import server_procs, server_wrk
from benchmarks.harness import Timed, interleaved, report
from benchmarks.scale_fleet import children_of, cpu_seconds
from benchmarks.server_wrk import Load
from edgekv import KV
from edgekv.cli.store_choice import data_dir_store_url
from edgekv.server.app import EdgeKVApp, create_app

SECONDS = float(os.environ.get("EDGEKV_BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "3"))
VALUE = b"v" * 100
HOT = "hot"
IN_PROCESS_GETS = 50_000


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-usage-"))
    data = work / "data"
    data.mkdir()
    token = server_procs.edgekv_admin(data, "token", "create", "--name", "bench")
    with KV(data_dir_store_url(data)) as kv:
        namespace = kv.create_namespace("bench")
        namespace.put(HOT, VALUE)
        account_id, namespace_id = kv.account_id, namespace.id
    path = f"/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{HOT}"
    ok = bench_in_process(data, path, token)
    if server_wrk.available():
        ok &= bench_served(work, data, path, token)
    else:
        print("wrk is not installed (Debian: apt-get install -y wrk): no served figure")
        ok = False
    return ok


def bench_in_process(data: Path, path: str, token: str) -> bool:
    """Hot GETs through the app's entry, counting on and off, in one event loop."""
    loop = asyncio.new_event_loop()
    apps = {
        "counting on": create_app(data_dir_store_url(data), cache_size=64 << 20),
        "counting off": create_app(data_dir_store_url(data), cache_size=64 << 20, usage=False),
    }
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
    }
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    async def gets(app: EdgeKVApp) -> None:
        for _ in range(IN_PROCESS_GETS):
            await app(scope, receive, send)

    def run(app: EdgeKVApp) -> Callable[[], object]:
        return lambda: loop.run_until_complete(gets(app))

    async def lifespans() -> list[Any]:
        started = []
        for app in apps.values():
            context = app.router.lifespan_context(app)
            await context.__aenter__()
            started.append(context)
        return started

    contexts = loop.run_until_complete(lifespans())
    try:
        runs = {name: run(app) for name, app in apps.items()}
        timed = interleaved(runs, IN_PROCESS_GETS, rounds=21)
    finally:
        for context in contexts:
            loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()
    if set(sent) != {200}:
        print(f"in-process GETs answered {sorted(set(sent))}, not only 200")
        return False
    return report(
        "hot GET in-process, counting on",
        timed["counting on"],
        [(Timed("off", timed["counting off"].seconds), 1.03)],
    )


def bench_served(work: Path, data: Path, path: str, token: str) -> bool:
    """`edgekv serve` against `edgekv serve --no-usage` under wrk, interleaved: the servers'
    CPU per request (their processes' user + system time over the requests served), which
    other load on the machine disturbs far less than throughput, with throughput beside it."""
    served: list[server_procs.Served] = []
    try:
        on = server_procs.start_edgekv(data, name="counting on")
        served.append(on)
        off = server_procs.start_edgekv(data, "--no-usage", name="counting off")
        served.append(off)
        get = server_wrk.lua_script(work, "get", headers={"Authorization": f"Bearer {token}"})
        servers = {"off": off, "on": on}

        def run(name: str, seconds: float) -> tuple[Load, float]:
            pids = [servers[name].pid, *children_of(servers[name].pid)]
            before = cpu_seconds(pids)
            load = server_wrk.run(servers[name].url + path, get, seconds)
            return load, (cpu_seconds(pids) - before) / max(1.0, load.rate * seconds)

        print(
            f"wrk -t{server_wrk.THREADS} -c{server_wrk.CONNECTIONS} -d{SECONDS:g}s, "
            f"{ROUNDS} rounds, medians; {len(VALUE)}-byte value, edge hits",
            flush=True,
        )
        for name in servers:  # warm-up
            run(name, 2.0)
        samples: dict[str, list[tuple[Load, float]]] = {name: [] for name in servers}
        for _ in range(ROUNDS):
            for name in servers:
                samples[name].append(run(name, SECONDS))
        rate = {n: statistics.median(load.rate for load, _ in s) for n, s in samples.items()}
        cpu = {n: statistics.median(c for _, c in s) for n, s in samples.items()}
        errors = "; ".join(load.errors for s in samples.values() for load, _ in s if load.errors)
        ratio = cpu["on"] / cpu["off"]
        passed = ratio <= 1.03 and not errors
        print(
            f"hot GET through edgekv serve, counting on: {cpu['on'] * 1e6:.1f} us CPU per "
            f"request | {ratio:.2f} x off ({cpu['off'] * 1e6:.1f} us with --no-usage; "
            f"goal <= 1.03) {'PASS' if passed else 'MISS'} | throughput {rate['on']:,.0f} "
            f"req/s, {rate['off'] / rate['on']:.2f} x off's time per request "
            f"({rate['off']:,.0f} req/s)" + (f" | ERRORS: {errors}" if errors else ""),
            flush=True,
        )
        return passed
    finally:
        for process in reversed(served):
            process.stop()
