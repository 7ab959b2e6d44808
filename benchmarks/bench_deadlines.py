"""Issue 12 figures: how long a request waits when the central store stops answering, through
`edgekv serve` as an edge (tests/server/faulted.py), with the store URL's `timeout` as the
anchor it is measured against.

Faults: Redis frozen (SIGSTOP), PostgreSQL behind a black-holed link (tests/tcpproxy.py), a
SQLite file locked by another process's write transaction. In each, ROUNDS rounds of
CONCURRENT requests at once (half PUTs, half GETs of keys never cached; SQLite: PUTs only, its
reads go on): the slowest answer (each a 503) against the deadline; `/healthz` against its
probe's own 1 s; a cached GET against the same GET while the store answers (measured in the
same run, rounds interleaved with the fault's).
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import Timed, report, report_absolute

DEADLINE = float(os.environ.get("EDGEKV_BENCH_DEADLINE", "2"))
ROUNDS = int(os.environ.get("EDGEKV_BENCH_ROUNDS", "3"))
CONCURRENT = 32


def _measure(
    name: str,
    url: str,
    start: Callable[[], None],
    end: Callable[[], None],
    reads_fail: bool,
    home: Path,
) -> bool:
    from tests.server.faulted import FaultedEdge

    slowest: list[float] = []
    health: list[float] = []
    cached: list[float] = []
    answering: list[float] = []
    statuses: set[int] = set()
    # One worker: a key is cached by the worker that read it (a node's workers each have
    # their own memory), and the cached GETs must reach that one.
    with (
        FaultedEdge(url, home, "--workers", "1") as edge,
        concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool,
    ):
        edge.put("cached", b"kept")
        for r in range(ROUNDS):
            reads = [edge.get("cached") for _ in range(20)]
            answering.append(statistics.median(r.seconds for r in reads))
            start()
            try:

                def one(i: int, r: int = r) -> float:
                    if reads_fail and i % 2:
                        answer = edge.get(f"never-{r}-{i}")
                    else:
                        answer = edge.put(f"during-{r}-{i}", b"x")
                    statuses.add(answer.status)
                    return answer.seconds

                slowest.append(max(pool.map(one, range(CONCURRENT))))
                health.append(edge.healthz().seconds)
                reads = [edge.get("cached") for _ in range(20)]
                assert {r.status for r in reads} == {200}, [r.status for r in reads]
                cached.append(statistics.median(r.seconds for r in reads))
            finally:
                end()
            while edge.put("after", b"back").status != 200:  # recovered before the next round
                time.sleep(0.1)
    assert statuses == {503}, statuses
    ok = report(
        f"{name}: slowest of {CONCURRENT} concurrent requests to a 503",
        Timed("slowest", max(slowest)),
        [(Timed(f"the URL's timeout={DEADLINE:g}", DEADLINE), 1.25)],
        unit="s",
    )
    ok &= report_absolute(f"{name}: /healthz", Timed("healthz", max(health)), 1100.0)
    ok &= report(
        f"{name}: a cached GET",
        Timed("cached", statistics.median(cached)),
        [(Timed("the same GET with the store answering", statistics.median(answering)), 2.0)],
        unit="ms",
    )
    return ok


def main() -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests import redis_cluster
    from tests.stores.backends import POSTGRES_URL
    from tests.stores.redis.test_faults import RedisServer
    from tests.stores.sqlite.test_deadlines import Locker
    from tests.tcpproxy import TcpProxy

    ok = True
    home = Path(tempfile.mkdtemp(prefix="edgekv-bench-deadlines-"))
    bounds = f"timeout={DEADLINE:g}&connect_timeout=1"
    try:
        path = home / "kv.db"
        locker = Locker(path)
        ok &= _measure(
            "SQLite locked",
            f"sqlite:///{path}?{bounds}",
            locker.start,
            locker.end,
            False,
            home / "sqlite",
        )
        if redis_cluster.available():
            server = RedisServer(home)
            server.start()
            assert server.process is not None
            pid = server.process.pid
            try:
                ok &= _measure(
                    "Redis frozen",
                    f"redis://127.0.0.1:{server.port}/0?{bounds}",
                    lambda: os.kill(pid, signal.SIGSTOP),
                    lambda: os.kill(pid, signal.SIGCONT),
                    True,
                    home / "redis",
                )
            finally:
                os.kill(pid, signal.SIGCONT)
                server.kill()
        else:
            print("(redis-server not installed: no Redis figures)")
        try:
            import psycopg

            psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
        except Exception:
            print(f"(no PostgreSQL at {POSTGRES_URL}: no PostgreSQL figures)")
        else:
            from urllib.parse import urlsplit, urlunsplit

            parts = urlsplit(POSTGRES_URL)
            with TcpProxy(parts.port or 5432) as proxy:
                user = f"{parts.username}@" if parts.username else ""
                url = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
                sep = "&" if "?" in url else "?"
                url += f"{sep}schema=edgekv_bench_deadlines_{os.getpid()}&{bounds}"
                ok &= _measure(
                    "PostgreSQL black-holed",
                    url,
                    proxy.blackhole,
                    proxy.restore,
                    True,
                    home / "postgres",
                )
                with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                    conn.execute(
                        f"DROP SCHEMA IF EXISTS edgekv_bench_deadlines_{os.getpid()} CASCADE"
                    )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
