"""Issue 13 figure: what `--metrics-port` costs a hot GET.

The same server app over the same SQLite store with an edge, built with and without metrics
(`create_app(metrics_listen=...)`: the request counter and latency histogram around the app's
entry), answers GETs of one hot key in process, through its ASGI entry with no network, so
the figure is the per-request cost itself and not wrk's noise. Rounds alternate; medians of
CPU time (process_time), which other processes on a shared machine do not inflate.
Goal: at most 1.10 x the handler's own work (a clock read on each side, a bucket and two
additions: a few hundred nanoseconds against a handler of about five microseconds).

Then the same two servers as users run them (`edgekv serve --workers 1`, with and without
`--metrics-port 0`), loaded by wrk in alternating rounds: the figure users see. Goal: at least
0.97 x the rate without metrics (the issue's 3 % budget for usage counting, taken for metrics).

`python -m benchmarks metrics`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import server_procs, server_wrk
from benchmarks.bench_server import report_rate
from benchmarks.harness import Timed, report
from edgekv import KV
from edgekv.cli.store_choice import sqlite_url
from edgekv.model import EntryWrite
from edgekv.server.app import EdgeKVApp, create_app
from edgekv.server.asgi import Message

OPS = 5_000
BUILDS: tuple[tuple[str, tuple[str, int] | None], ...] = (("off", None), ("on", ("127.0.0.1", 0)))
ROUNDS = 31
WRK_SECONDS = float(os.environ.get("EDGEKV_BENCH_SECONDS", "5"))
WRK_ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "5"))
HOT = "hot"
VALUE = b"x" * 100


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-metrics-"))
    url = sqlite_url(work / "kv.db")
    ok = asyncio.run(_bench(url))
    if not server_wrk.available():
        print("wrk is not installed (Debian: apt-get install -y wrk): no figure through HTTP")
        return False
    return ok & _bench_http(work)


def _bench_http(work: Path) -> bool:
    """The same through `edgekv serve` (one worker each, one store), loaded by wrk."""
    data = work / "data"
    data.mkdir()
    token = server_procs.edgekv_admin(data, "token", "create", "--name", "bench")
    with KV(sqlite_url(data / "kv.db")) as kv:
        namespace = kv.create_namespace("bench")
        namespace.put(HOT, VALUE)
        path = f"/client/v4/accounts/{kv.account_id}/storage/kv/namespaces/{namespace.id}/values/"
    served = []
    try:
        off = server_procs.start_edgekv(data, "--workers", "1", name="off")
        served.append(off)
        on = server_procs.start_edgekv(
            data, "--workers", "1", "--metrics-port", "0", name="metrics on"
        )
        served.append(on)
        script = server_wrk.lua_script(work, "get", headers={"Authorization": f"Bearer {token}"})
        runs = {
            "off": lambda seconds: server_wrk.run(off.url + path + HOT, script, seconds),
            "on": lambda seconds: server_wrk.run(on.url + path + HOT, script, seconds),
        }
        loads = server_wrk.load_rounds(runs, WRK_ROUNDS, WRK_SECONDS)
    finally:
        for process in served:
            process.stop()
    print(f"wrk -c{server_wrk.CONNECTIONS} -d{WRK_SECONDS:g}s, {WRK_ROUNDS} rounds, medians")
    return report_rate(
        "GET value, hot key, through edgekv serve --metrics-port",
        loads["on"],
        "the same without metrics",
        loads["off"],
        0.97,
    )


async def _bench(url: str) -> bool:
    apps: dict[str, EdgeKVApp] = {}
    for name, metrics in BUILDS:
        apps[name] = create_app(url, auth=False, cache_size=64 << 20, metrics_listen=metrics)
    contexts = [app.router.lifespan_context(app) for app in apps.values()]
    for context in contexts:
        await context.__aenter__()
    try:
        account = apps["off"].state.account_id
        store = apps["off"].state.store
        namespace = await store.create_namespace("bench", account)
        await store.put(namespace.id, EntryWrite(HOT, VALUE, None, None, len(VALUE)))
        path = f"/client/v4/accounts/{account}/storage/kv/namespaces/{namespace.id}/values/{HOT}"
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for round_ in range(ROUNDS + 1):  # the first round warms up
            for name, app in apps.items():
                started = time.process_time()
                for _ in range(OPS):
                    await app(_scope(path), _receive, _send)
                if round_:
                    samples[name].append((time.process_time() - started) / OPS)
    finally:
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)
    timed = {name: Timed(name, statistics.median(s)) for name, s in samples.items()}
    print(
        f"in-process ASGI GET of a hot {len(VALUE)}-byte value, CPU time, "
        f"{OPS} per round, {ROUNDS} rounds, medians"
    )
    added = (timed["on"].seconds - timed["off"].seconds) * 1e6
    print(f"  (metrics add {added:.2f} us to a hot GET's own work, before any HTTP)")
    return report("GET value handler, hot key, metrics on", timed["on"], [(timed["off"], 1.10)])
