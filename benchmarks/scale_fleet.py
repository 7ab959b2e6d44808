"""What bench_scale runs and measures: central stores, fleets of `edgekv serve` processes, the
CPU and memory of processes (from /proc), and a small HTTP/1.1 client cheap enough to poll
64 edges at once from one process.

Every process is started as users start it (`edgekv serve ... --port 0`, its address read
from its first line) and stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.server_procs import EDGEKV, Served
from edgekv.cli.store_choice import sqlite_url

_LISTENING = re.compile(r"listening on (http://[^\s]+)")
_TICK = os.sysconf("SC_CLK_TCK")
RELAY_SECRET = "bench-relay-secret"


# processes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used (those gone count 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found[1]) * 1024 if found else 0


def children_of(root: int) -> list[int]:
    """`root` and every process below it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(stat[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def address(served: Served) -> tuple[str, int]:
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def serve_command(store_url: str, *args: str) -> list[str]:
    """An edge as the benchmark runs it: one worker, no auth (loopback only)."""
    command = [EDGEKV, "serve", "--no-auth", "--host", "127.0.0.1", "--port", "0"]
    return [*command, "--workers", "1", "--store", store_url, *args]


def relay_url(relay: Served) -> str:
    return f"relay://:{RELAY_SECRET}@{relay.url.removeprefix('http://')}"


@dataclass
class Fleet:
    """Processes started together, stopped together."""

    work: Path
    env: dict[str, str]
    members: list[Served] = field(default_factory=list)

    def start(self, names_and_commands: list[tuple[str, list[str]]]) -> list[Served]:
        """Starts every command at once, then waits for each to listen."""
        started = [
            Served(name, command, self.work, self.env, wait=False)
            for name, command in names_and_commands
        ]
        self.members += started
        for served in started:
            served.wait_for_url(120.0)
        return started

    def stop(self) -> None:
        for served in self.members:  # all at once, then each waited for
            if served.process.poll() is None:
                served.process.send_signal(signal.SIGTERM)
        for served in self.members:
            served.stop()
        self.members.clear()


# central stores


@dataclass
class Central:
    name: str
    url: str
    pids: Callable[[], list[int]]  # the store's own processes (none for SQLite: embedded)


@contextlib.contextmanager
def central_stores(work: Path, only: set[str]) -> Iterator[list[Central]]:
    """SQLite (a file), PostgreSQL (a private server: see below), a Redis Cluster of 3 masters;
    each one absent here is said so and skipped."""
    from tests import pg_instance, redis_cluster

    stores: list[Central] = []
    cleanups: list[Callable[[], None]] = []
    try:
        if not only or "sqlite" in only:
            stores.append(Central("sqlite", sqlite_url(work / "central.db"), list))
        if not only or "postgres" in only:
            shared = os.environ.get("EDGEKV_BENCH_POSTGRES_URL")
            if shared:
                stores.append(_shared_postgres(shared, cleanups))
            elif pg_instance.available():
                # Its own server, not the shared one: 65 edges straight on PostgreSQL hold two
                # connections or more each (the feed's LISTEN, reads), past the shared server's
                # max_connections of 100, which other users of it need too.
                pg = pg_instance.PostgresInstance(max_connections=500).start()
                cleanups.append(pg.destroy)
                postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
                url = f"{pg.url}?schema=bench_{uuid.uuid4().hex[:8]}"
                stores.append(Central("postgres", url, lambda: children_of(postmaster)))
            else:
                print("(no PostgreSQL server binaries (initdb, pg_ctl): no PostgreSQL figures)")
        if not only or "redis-cluster" in only:
            if redis_cluster.available():
                cluster = redis_cluster.start()
                cleanups.append(cluster.stop)
                pids = [p.pid for p in cluster.processes]
                url = f"{cluster.url}?prefix=bench-{uuid.uuid4().hex[:8]}"
                stores.append(Central("redis-cluster", url, lambda: pids))
            else:
                print("(redis-server not installed: no Redis Cluster figures)")
        yield stores
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


def _shared_postgres(url: str, cleanups: list[Callable[[], None]]) -> Central:
    """A PostgreSQL server of the caller's (EDGEKV_BENCH_POSTGRES_URL), in a schema of its own;
    its CPU is that of the backends serving the benchmark's connections (by application_name).
    Mind its max_connections: every edge holds two connections or more."""
    import psycopg

    run = uuid.uuid4().hex[:8]
    name = f"edgekv-bench-{run}"

    def backends() -> list[int]:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchall()
        return [int(pid) for (pid,) in rows]

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "bench_{run}" CASCADE')

    cleanups.append(drop)
    sep = "&" if "?" in url else "?"
    return Central("postgres", f"{url}{sep}schema=bench_{run}&application_name={name}", backends)


# a small HTTP/1.1 client


class Conn:
    """One keep-alive connection; `request` reconnects once if the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        if method != "GET":
            head += f"Content-Length: {len(body)}\r\n"
        raw = head.encode() + b"\r\n" + body
        for attempt in (0, 1):
            try:
                if self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                assert self._reader is not None
                self._writer.write(raw)
                header = await self._reader.readuntil(b"\r\n\r\n")
                status = int(header[9:12])
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", header)
                data = await self._reader.readexactly(int(length[1]) if length else 0)
                return status, data
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
