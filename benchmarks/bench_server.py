"""Issue 3 figures: `edgekv serve` under load from wrk, against anchors measured in the same run.

Load: wrk from a second process on loopback, 2 threads, 32 connections, 100-byte values, one
hot key. Subjects: `edgekv serve` exactly as users run it (uvicorn + uvloop + httptools, auth
on, the embedded SQLite store in a temporary data dir). Anchors: an ASGI app that answers 100
bytes under the same server stack and options (benchmarks/server_bare.py), and Miniflare
answering the same read through a Worker (`env.KV.get`). Runs alternate anchor and subject;
each figure is the median of its runs.

EDGEKV_BENCH_SECONDS (default 8) sets the length of a wrk run, EDGEKV_BENCH_ROUNDS (default 3)
the number of rounds.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks import server_procs, server_wrk
from benchmarks.harness import Timed, interleaved
from benchmarks.server_wrk import Load
from edgekv import KV
from edgekv.cli.store_choice import data_dir_store_url

SECONDS = float(os.environ.get("EDGEKV_BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "3"))
VALUE = b"v" * 100
HOT = "hot"
BULK_PAIRS = 10_000


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def _rate(load: Load) -> str:
    return f"{load.rate:,.0f} req/s, p99 {load.p99 * 1e3:.2f} ms"


def report_rate(
    figure: str, subject: Load, anchor_name: str, anchor: Load, goal: float, p99_goal: float = 0
) -> bool:
    """`figure: N req/s, p99 | r x anchor (M req/s; goal >= g) PASS [| p99 goal < t ms PASS]`."""
    ratio = subject.rate / anchor.rate
    ok = ratio >= goal and not subject.errors
    parts = [
        f"{figure}: {_rate(subject)}",
        f"{ratio:.2f} x {anchor_name} ({_rate(anchor)}; goal >= {goal}) {_verdict(ratio >= goal)}",
    ]
    if p99_goal:
        ok &= subject.p99 < p99_goal
        parts.append(
            f"p99 goal < {p99_goal * 1e3:g} ms {_verdict(subject.p99 < p99_goal)}",
        )
    if subject.errors or anchor.errors:
        parts.append(f"ERRORS: {subject.errors or anchor.errors}")
    print(" | ".join(parts), flush=True)
    return ok


def main() -> bool:
    if not server_wrk.available():
        print("wrk is not installed (Debian: apt-get install -y wrk; `make bench` does it)")
        return False
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-server-"))
    data = work / "data"
    data.mkdir()
    token = server_procs.edgekv_admin(data, "token", "create", "--name", "bench")
    with KV(data_dir_store_url(data)) as kv:
        namespace = kv.create_namespace("bench")
        namespace.put(HOT, VALUE)
        account_id, namespace_id = kv.account_id, namespace.id
    auth = {"Authorization": f"Bearer {token}"}
    values = f"/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/"

    served: list[server_procs.Served] = []
    try:
        edgekv = server_procs.start_edgekv(data)
        served.append(edgekv)
        bare = server_procs.start_bare(work)
        served.append(bare)
        route = server_procs.start_bare(work, starlette=True)
        served.append(route)
        routed = server_procs.start_routed(data)
        served.append(routed)
        miniflare = None
        if server_procs.miniflare_available():
            miniflare = server_procs.start_miniflare(work, HOT, len(VALUE))
            served.append(miniflare)
        else:
            print(
                "Miniflare is not installed (npm ci --prefix tests/e2e/node): no Miniflare figure"
            )

        get = server_wrk.lua_script(work, "get", headers=auth)
        put = server_wrk.lua_script(
            work,
            "put",
            headers={**auth, "Content-Type": "application/octet-stream"},
            method="PUT",
            key_path=values + "put:",
            body=VALUE,
        )

        def wrk(url: str, script: Path) -> Callable[[float], Load]:
            return lambda seconds: server_wrk.run(url, script, seconds)

        runs = {
            "bare": wrk(bare.url + values + HOT, get),
            "get": wrk(edgekv.url + values + HOT, get),
            "route": wrk(route.url + values + HOT, get),
            "put": wrk(edgekv.url + values, put),
            "routed get": wrk(routed.url + values + HOT, get),
            "routed put": wrk(routed.url + values, put),
        }
        if miniflare is not None:
            runs["miniflare"] = wrk(miniflare.url + "/", get)
        print(
            f"wrk -t{server_wrk.THREADS} -c{server_wrk.CONNECTIONS} -d{SECONDS:g}s, "
            f"{ROUNDS} rounds, medians; {len(VALUE)}-byte values",
            flush=True,
        )
        loads = server_wrk.load_rounds(runs, ROUNDS, SECONDS)

        ok = report_rate(
            "GET value, hot key",
            loads["get"],
            "bare ASGI app (same server stack)",
            loads["bare"],
            0.7,
            p99_goal=0.010,
        )
        print(
            f"  (context: one Starlette route answering 100 bytes on the same stack: "
            f"{_rate(loads['route'])}, {loads['route'].rate / loads['bare'].rate:.2f} x the bare "
            f"app; edgekv GET is {loads['get'].rate / loads['route'].rate:.2f} x that route)",
            flush=True,
        )
        if miniflare is not None:
            ok &= report_rate(
                "GET value, against Miniflare",
                loads["get"],
                "Miniflare through a Worker",
                loads["miniflare"],
                5.0,
            )
        else:
            ok = False
        ok &= report_rate("PUT value (durable)", loads["put"], "GET value", loads["get"], 0.5)
        print(
            f"  (the value routes entered before the router, against the same handler reached "
            f"through Starlette's middleware and router: GET {_rate(loads['routed get'])}, "
            f"{loads['get'].rate / loads['routed get'].rate:.2f} x faster before it; PUT "
            f"{_rate(loads['routed put'])}, {loads['put'].rate / loads['routed put'].rate:.2f} x)",
            flush=True,
        )
        ok &= bench_bulk(edgekv.url, auth, account_id, data)
        return ok
    finally:
        for process in reversed(served):
            process.stop()


def bench_bulk(url: str, auth: dict[str, str], account_id: str, data: Path) -> bool:
    """PUT /bulk of 10,000 pairs through the API, against the same `bulk_put` in process."""
    pairs = [{"key": f"bulk:{i:06d}", "value": VALUE.decode()} for i in range(BULK_PAIRS)]
    body = json.dumps(pairs).encode()
    with KV(data_dir_store_url(data)) as kv, httpx.Client(headers=auth, timeout=60) as client:
        over_api = kv.create_namespace("bulk-api")
        in_process = kv.create_namespace("bulk-in-process")
        endpoint = f"{url}/client/v4/accounts/{account_id}/storage/kv/namespaces/{over_api.id}/bulk"

        def through_api() -> None:
            answer = client.put(
                endpoint, content=body, headers={"Content-Type": "application/json"}
            )
            answer.raise_for_status()
            assert answer.json()["result"]["successful_key_count"] == BULK_PAIRS

        timed = interleaved(
            {"bulk_put in process": lambda: in_process.bulk_put(pairs), "api": through_api},
            1,
            rounds=5,
        )
    api, anchor = timed["api"], timed["bulk_put in process"]
    return _report_bulk(api, anchor)


def _report_bulk(api: Timed, anchor: Timed) -> bool:
    passed = api.seconds <= 1.0
    print(
        f"bulk write of {BULK_PAIRS:,} pairs through the API (PUT /bulk): "
        f"{api.seconds * 1e3:.0f} ms (goal <= 1000 ms) {_verdict(passed)} | "
        f"{api.seconds / anchor.seconds:.2f} x {anchor.name} ({anchor.seconds * 1e3:.0f} ms)",
        flush=True,
    )
    return passed


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
