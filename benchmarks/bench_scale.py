"""Issue 15 figures: many edges over one central store, directly and through relays; a node's
workers; what telling a node's workers of a write costs.

- For each central store (SQLite file, PostgreSQL, Redis Cluster) and 1, 4, 16 and 64 edge
  processes (`edgekv serve --workers 1`), each straight on the central store and then behind 4
  relays (`--relay-secret`): a writing edge (one more process) writes a key WRITES times;
  after each acknowledgement every edge is polled until it serves the new value. Per
  configuration: propagation p50/p99 (a write's time until *every* edge serves it), the
  central store's feed reads per write (counted by the stores themselves: `central_feed_reads`
  in each reader's /healthz; with relays, only the relays read it), the central store's CPU
  per write (its server processes; SQLite has none: its feed reads cost the edges), the
  edges' and relays' CPU per write, and the memory of an idle edge. Anchor: the same number
  of edges straight on the store, measured in the same run. Goals: p99 <= 25 ms at 16 edges
  direct, <= 50 ms at 64 edges through relays; central feed reads with relays do not grow
  with the edges.
- Hot reads through one node with 1 and 2 workers (wrk), with CPU time per request.
- Read-your-writes across workers: what the node's change log costs a write and a request,
  against what the alternatives would: a round trip to a sibling over a local socket per
  write, or a shared memory tier's hit against a dict hit.

Writes a plot of p99 and central feed reads against the number of edges (EDGEKV_BENCH_PLOT,
default docs/scaling.png). `python -m benchmarks scale`; EDGEKV_BENCH_EDGES (1,4,16,64),
EDGEKV_BENCH_STORES (sqlite,postgres,redis-cluster), EDGEKV_BENCH_WRITES (60),
EDGEKV_BENCH_SECONDS and EDGEKV_BENCH_ROUNDS (wrk runs). Loopback only; it starts and stops
everything it uses.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import server_wrk
from benchmarks.harness import interleaved, report
from benchmarks.scale_fleet import (
    RELAY_SECRET,
    Central,
    Conn,
    Fleet,
    address,
    central_stores,
    children_of,
    cpu_seconds,
    relay_url,
    rss_bytes,
    serve_command,
)
from benchmarks.server_procs import ROOT, Served, _env
from edgekv.model import DEFAULT_ACCOUNT

EDGES = tuple(int(n) for n in os.environ.get("EDGEKV_BENCH_EDGES", "1,4,16,64").split(","))
STORES = set(filter(None, os.environ.get("EDGEKV_BENCH_STORES", "").split(",")))
WRITES = int(os.environ.get("EDGEKV_BENCH_WRITES", "60"))
SECONDS = float(os.environ.get("EDGEKV_BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "3"))
PLOT = Path(os.environ.get("EDGEKV_BENCH_PLOT", str(ROOT / "docs" / "scaling.png")))
RELAYS = 4
GAP = 0.05  # seconds between one write's propagation and the next write
GIVE_UP = 5.0  # seconds a poller waits for a write before it counts it lost
NAMESPACES = f"/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"


@dataclass
class Row:
    store: str
    mode: str  # "direct" or "4 relays"
    edges: int
    p50: float  # seconds
    p99: float
    samples: int
    resolution: float  # seconds between two polls of one edge
    feed_reads: float  # central store feed reads per write
    central_cpu: float | None  # seconds per write; None: no server process (SQLite)
    edges_cpu: float  # seconds per write, every edge and relay
    rss: float  # bytes, an idle edge (mean)
    write_rate: float  # writes per second during the run


# the propagation phase


async def _health(served: Served) -> dict[str, object]:
    conn = Conn(*address(served))
    try:
        status, body = await conn.request("GET", "/healthz")
        assert status == 200, body
        return dict(json.loads(body)["result"]["edge"])
    finally:
        conn.close()


async def _feed_reads(servers: list[Served]) -> int:
    found = await asyncio.gather(*(_health(s) for s in servers))
    return sum(int(h["central_feed_reads"]) for h in found)  # type: ignore[call-overload]


async def _watch(conn: Conn, path: str, want: bytes, since: float, every: float) -> float:
    """Seconds from `since` until `conn`'s edge serves `want` (inf after GIVE_UP)."""
    while True:
        _, body = await conn.request("GET", path)
        now = time.perf_counter()
        if body == want:
            return now - since
        if now - since > GIVE_UP:
            return float("inf")
        await asyncio.sleep(every)


async def propagation(
    writer: Served,
    readers: list[Served],
    central_readers: list[Served],
    central: Central,
    processes: list[int],
    ns: str,
    mode: str,
) -> Row:
    every = max(0.001, len(readers) * 0.00015)  # 64 edges: each polled every ~10 ms
    path = f"{NAMESPACES}/{ns}/values/propagation"
    put = Conn(*address(writer))
    polls = [Conn(*address(r)) for r in readers]
    try:
        status, _ = await put.request("PUT", path, b"0")
        assert status == 200
        start = time.perf_counter()
        await asyncio.gather(*(_watch(c, path, b"0", start, every) for c in polls))
        reads_before = await _feed_reads(central_readers)
        central_before, edges_before = cpu_seconds(central.pids()), cpu_seconds(processes)
        began = time.perf_counter()
        delays: list[float] = []
        for i in range(1, WRITES + 1):
            status, _ = await put.request("PUT", path, str(i).encode())
            assert status == 200
            acknowledged = time.perf_counter()
            seen = await asyncio.gather(
                *(_watch(c, path, str(i).encode(), acknowledged, every) for c in polls)
            )
            delays.append(max(seen))
            await asyncio.sleep(GAP)
        elapsed = time.perf_counter() - began
        central_used = cpu_seconds(central.pids()) - central_before
        edges_used = cpu_seconds(processes) - edges_before
        reads = await _feed_reads(central_readers) - reads_before
    finally:
        for conn in [put, *polls]:
            conn.close()
    ordered = sorted(delays)
    return Row(
        central.name,
        mode,
        len(readers),
        statistics.median(delays),
        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        len(delays),
        every,
        reads / WRITES,
        central_used / WRITES if central.name != "sqlite" else None,
        edges_used / WRITES,
        statistics.mean(rss_bytes(r.pid) for r in readers),
        WRITES / elapsed,
    )


def run_store(central: Central, relays: int, work: Path) -> list[Row]:
    """Edges grown to each size of EDGES over `central` (behind `relays` relays, or none)."""
    fleet = Fleet(work, _env(work))
    mode = f"{relays} relays" if relays else "direct"
    rows: list[Row] = []
    try:
        front: list[Served] = []
        if relays:
            commands = serve_command(central.url, "--relay-secret", RELAY_SECRET)
            front = fleet.start([(f"{central.name} relay {i}", commands) for i in range(relays)])

        def store_of(i: int) -> str:
            return relay_url(front[i % relays]) if relays else central.url

        (writer,) = fleet.start([(f"{central.name} {mode} writer", serve_command(store_of(0)))])
        ns = asyncio.run(_namespace(writer))
        if not relays:
            write_capacity(central, writer, ns, work)
        readers: list[Served] = []
        for size in EDGES:
            readers += fleet.start(
                [
                    (f"{central.name} {mode} edge {i}", serve_command(store_of(i + 1)))
                    for i in range(len(readers), size)
                ]
            )
            time.sleep(1.0)  # idle: the memory of an edge that serves nothing yet
            central_readers = front or [writer, *readers]
            processes = [s.pid for s in [*front, writer, *readers]]
            row = asyncio.run(
                propagation(writer, readers, central_readers, central, processes, ns, mode)
            )
            print_row(row, rows)
            rows.append(row)
    finally:
        fleet.stop()
    return rows


async def _namespace(served: Served) -> str:
    conn = Conn(*address(served))
    try:
        title = json.dumps({"title": f"bench-scale-{time.time_ns()}"}).encode()
        status, body = await conn.request("POST", NAMESPACES, title)
        assert status == 200, body
        return str(json.loads(body)["result"]["id"])
    finally:
        conn.close()


async def _put(served: Served, path: str, value: bytes) -> None:
    conn = Conn(*address(served))
    try:
        status, body = await conn.request("PUT", path, value)
        assert status == 200, body
    finally:
        conn.close()


def write_capacity(central: Central, edge: Served, ns: str, work: Path) -> None:
    """Durable PUTs of 100-byte values through one edge, 32 connections (wrk), no other edge:
    the writes/s one edge gets from the store, and what each costs the store's CPU."""
    if not server_wrk.available():
        return
    headers = {"Content-Type": "application/octet-stream"}
    path = f"{NAMESPACES}/{ns}/values/"
    script = server_wrk.lua_script(
        work,
        f"put-{central.name}",
        headers=headers,
        method="PUT",
        key_path=path + "w",
        body=b"v" * 100,
    )
    server_wrk.run(edge.url + path, script, 2.0)  # warm-up
    central_before, edge_before = cpu_seconds(central.pids()), cpu_seconds([edge.pid])
    load = server_wrk.run(edge.url + path, script, SECONDS)
    writes = load.rate * SECONDS
    central_used = cpu_seconds(central.pids()) - central_before
    edge_used = cpu_seconds([edge.pid]) - edge_before
    central_cost = (
        "n/a (embedded: in the edge's)"
        if central.name == "sqlite"
        else f"{central_used / writes * 1e6:.0f} us"
    )
    print(
        f"writes through one edge, {central.name} (wrk -t2 -c32, durable PUT of 100 bytes): "
        f"{load.rate:,.0f} writes/s, p99 {_ms(load.p99)} | central CPU {central_cost}/write | "
        f"the edge's CPU {edge_used / writes * 1e6:.0f} us/write"
        + (f" | ERRORS: {load.errors}" if load.errors else ""),
        flush=True,
    )


# reporting


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def print_row(row: Row, earlier: list[Row]) -> None:
    goal = {("direct", 16): 0.025, (f"{RELAYS} relays", 64): 0.050}.get((row.mode, row.edges))
    parts = [
        f"propagation, {row.store}, {row.edges} edges {row.mode}: p50 {_ms(row.p50)}, "
        f"p99 {_ms(row.p99)} ({row.samples} writes, each edge polled every "
        f"{_ms(row.resolution)})"
        + ("" if goal is None else f" goal p99 <= {goal * 1e3:g} ms {_verdict(row.p99 <= goal)}"),
        f"central feed reads {row.feed_reads:.1f}/write",
    ]
    first = next((r for r in earlier if r.mode == row.mode), None)
    if row.mode != "direct" and first is not None and first.feed_reads:
        parts.append(
            f"{row.feed_reads / first.feed_reads:.2f} x at {first.edges} edges (goal <= 2: "
            f"follows relays, not edges) {_verdict(row.feed_reads <= 2 * first.feed_reads)}"
        )
    central = "n/a (embedded)" if row.central_cpu is None else _ms(row.central_cpu)
    parts += [
        f"central CPU {central}/write",
        f"edges' and relays' CPU {_ms(row.edges_cpu)}/write",
        f"idle edge {row.rss / (1 << 20):.0f} MiB",
        f"{row.write_rate:.1f} writes/s",
    ]
    print(" | ".join(parts), flush=True)


def print_comparison(direct: list[Row], relayed: list[Row]) -> None:
    for d, r in zip(direct, relayed, strict=False):
        if d.feed_reads:
            print(
                f"central feed reads per write, {d.store}, {d.edges} edges: "
                f"{r.feed_reads:.1f} through {RELAYS} relays | {r.feed_reads / d.feed_reads:.2f} x "
                f"straight on the store ({d.feed_reads:.1f})",
                flush=True,
            )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right, cpu) = plt.subplots(1, 3, figsize=(15, 4.4))
    for n, store in enumerate(sorted({r.store for r in rows})):
        for mode, style in (("direct", "-o"), (f"{RELAYS} relays", "--s")):
            chosen = [r for r in rows if r.store == store and r.mode == mode]
            if not chosen:
                continue
            label, color = f"{store}, {mode}", f"C{n}"
            sizes = [r.edges for r in chosen]
            left.plot(sizes, [r.p99 * 1e3 for r in chosen], style, label=label, color=color)
            right.plot(sizes, [r.feed_reads for r in chosen], style, label=label, color=color)
            if chosen[0].central_cpu is not None:
                used = [(r.central_cpu or 0) * 1e3 for r in chosen]
                cpu.plot(sizes, used, style, label=label, color=color)
    for goal, size, mode in ((25, 16, "direct"), (50, 64, "relays")):
        if size in EDGES:
            left.plot([size], [goal], "k*", markersize=9)
            left.annotate(
                f"goal, {mode}",
                (size, goal),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
    for axes, title in (
        (left, "propagation p99 (ms): a write until every edge serves it"),
        (right, "central store feed reads per write"),
        (cpu, "central store CPU per write (ms)"),
    ):
        axes.set_xscale("log", base=2)
        axes.set_xticks(list(EDGES), [str(n) for n in EDGES])
        axes.set_xlabel("edges")
        axes.set_title(title, fontsize=10)
        axes.grid(True, alpha=0.3)
    for axes in (left, right, cpu):
        axes.set_yscale("log")
    left.legend(fontsize=8)
    figure.suptitle(f"edgekv on loopback, {os.cpu_count()} CPUs (benchmarks/bench_scale.py)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"plot: {path}", flush=True)


# a node's workers


def hot_reads(work: Path) -> bool:
    """One node with 1 and with 2 workers, hot GETs through wrk; CPU time per request."""
    if not server_wrk.available():
        print("wrk is not installed: no hot-read figures (apt-get install -y wrk)")
        return False
    store = f"sqlite:///{work / 'hot.db'}"
    fleet = Fleet(work, _env(work))
    try:
        nodes = {}
        for workers in (1, 2):
            command = serve_command(store)
            command[command.index("--workers") + 1] = str(workers)
            (nodes[workers],) = fleet.start([(f"node of {workers}", command)])
        ns = asyncio.run(_namespace(nodes[1]))
        key = f"{NAMESPACES}/{ns}/values/hot"
        asyncio.run(_put(nodes[1], key, b"v" * 100))
        script = server_wrk.lua_script(work, "hot", headers={})
        samples: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for served in nodes.values():  # warm-up
            server_wrk.run(served.url + key, script, 2.0)
        for _ in range(ROUNDS):
            for workers, served in nodes.items():
                pids = children_of(served.pid)
                before = cpu_seconds(pids)
                load = server_wrk.run(served.url + key, script, SECONDS)
                used = cpu_seconds(pids) - before
                samples[workers].append((load.rate, used / (load.rate * SECONDS)))
    finally:
        fleet.stop()
    rate = {w: statistics.median(s[0] for s in samples[w]) for w in samples}
    cpu = {w: statistics.median(s[1] for s in samples[w]) for w in samples}
    for workers in (1, 2):
        print(
            f"hot reads, one node of {workers} worker{'s' if workers > 1 else ''} (wrk -t2 "
            f"-c32, loopback, on {os.cpu_count()} CPUs shared with wrk): {rate[workers]:,.0f} "
            f"req/s | {cpu[workers] * 1e6:.0f} us CPU per request (every process of the node)"
            + (
                f" | {rate[2] / rate[1]:.2f} x one worker"
                if workers == 2
                else f" | {1 / cpu[1]:,.0f} req/s per core of the node's own CPU"
            ),
            flush=True,
        )
    return True


def sibling_notices() -> bool:
    """What read-your-writes across a node's workers costs, and what the alternatives would."""
    from edgekv.server.node_log import KEY, Entry, NodeLog

    log = NodeLog.create(2)
    entry = Entry(KEY, "n" * 32, "tenant:42:config", 7)
    seen = log.end()
    mapped = dict.fromkeys(range(1000), b"v" * 100)

    def append() -> None:
        for _ in range(2000):
            log.append([entry])

    def check() -> None:
        for _ in range(2000):
            _ = log.end() != seen

    def dict_hit() -> None:
        for i in range(2000):
            _ = mapped.get(i % 1000)

    import fcntl

    def shared_hit() -> None:  # a shared memory tier: a reader's lock and a copy per hit
        for i in range(2000):
            fcntl.lockf(log.fd, fcntl.LOCK_SH)
            try:
                _ = bytes(log._map[4096 + (i % 64) * 100 : 4096 + (i % 64) * 100 + 100])
            finally:
                fcntl.lockf(log.fd, fcntl.LOCK_UN)

    near, far = socket.socketpair()
    notice = struct.pack("<q24s32s", 7, b"n" * 24, b"tenant:42:config".ljust(32))
    pid = os.fork()
    if pid == 0:  # a sibling that answers each notice
        try:
            near.close()
            while data := far.recv(len(notice), socket.MSG_WAITALL):
                far.sendall(data)
        finally:
            os._exit(0)
    far.close()

    def round_trip() -> None:
        for _ in range(2000):
            near.sendall(notice)
            near.recv(len(notice), socket.MSG_WAITALL)

    try:
        timed = interleaved(
            {
                "node log append": append,
                "node log check": check,
                "socket round trip": round_trip,
                "dict hit": dict_hit,
                "shared tier hit": shared_hit,
            },
            2000,
        )
    finally:
        near.close()
        os.waitpid(pid, 0)
        log.close()
    ok = report(
        "a write's notice to its siblings (node log append: lock, copy, unlock)",
        timed["node log append"],
        [(timed["socket round trip"], 1.0)],
    )
    ok &= report(
        "a request's look at the node log (8-byte load)",
        timed["node log check"],
        [(timed["dict hit"], 5.0)],
    )
    print(
        f"not chosen: a shared memory tier's hit costs {timed['shared tier hit'].us:.2f} us "
        f"({timed['shared tier hit'].seconds / timed['dict hit'].seconds:.0f} x a dict hit, "
        f"{timed['dict hit'].us:.3f} us), on every read; telling each sibling and waiting for "
        f"its answer costs a write {timed['socket round trip'].us:.1f} us per sibling (a blocking "
        "socket round trip, before any event loop's own delay)",
        flush=True,
    )
    return ok


def relay_client(work: Path) -> bool:
    """What a request to a relay costs an edge's CPU: the relay store's own connections against
    httpx's AsyncClient, the same requests to the same server in the same run."""
    import httpx

    from edgekv.stores.relay.connections import AsyncRelayConnections

    fleet = Fleet(work, _env(work))
    try:
        (served,) = fleet.start([("relay client target", serve_command("memory://"))])

        async def run() -> dict[str, float]:
            own = AsyncRelayConnections(served.url, {}, 10.0, 4)
            other = httpx.AsyncClient(base_url=served.url)
            costs: dict[str, list[float]] = {"own": [], "httpx": []}

            async def by_own() -> None:
                await (await own.request("GET", "/nope")).read()

            async def by_httpx() -> None:
                await other.get("/nope")

            for _ in range(ROUNDS + 1):  # the first round warms up
                for name, call in (("own", by_own), ("httpx", by_httpx)):
                    started = time.process_time()
                    for _ in range(300):
                        await call()
                    costs[name].append((time.process_time() - started) / 300)
            await own.aclose()
            await other.aclose()
            return {name: statistics.median(c[1:]) for name, c in costs.items()}

        cost = asyncio.run(run())
    finally:
        fleet.stop()
    ratio = cost["own"] / cost["httpx"]
    print(
        f"a request to a relay, the edge's CPU: {cost['own'] * 1e6:.0f} us over the relay "
        f"store's own connections | {ratio:.2f} x httpx.AsyncClient ({cost['httpx'] * 1e6:.0f} "
        f"us; goal <= 0.5) {_verdict(ratio <= 0.5)}",
        flush=True,
    )
    return ratio <= 0.5


def main() -> bool:
    ok = sibling_notices()
    ok &= relay_client(Path(tempfile.mkdtemp(prefix="edgekv-bench-client-")))
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-scale-"))
    ok &= hot_reads(work)
    rows: list[Row] = []
    with central_stores(work, STORES) as stores:
        for central in stores:
            direct = run_store(central, 0, work)
            relayed = run_store(central, RELAYS, work)
            print_comparison(direct, relayed)
            rows += direct + relayed
    for row in rows:
        if (row.mode, row.edges) == ("direct", 16):
            ok &= row.p99 <= 0.025
        if (row.mode, row.edges) == (f"{RELAYS} relays", 64):
            ok &= row.p99 <= 0.050
    if rows:
        plot(rows, PLOT)
    return ok


if __name__ == "__main__":
    main()
