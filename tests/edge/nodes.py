"""Edge nodes as users run them: `edgekv serve --store URL --port 0` subprocesses, over REST.

Each node is a real process with its own memory tier, following the central store's change
feed. Tests talk to it with httpx only; the REST GET answers `CF-Cache-Status`, and
`Cache-Control: no-cache` makes it a strong read.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.live import EDGEKV, spawn_serve, stop_process


@dataclass
class Read:
    status: int  # HTTP status
    value: bytes | None  # None: 404
    cache: str | None  # CF-Cache-Status


@dataclass
class EdgeNode:
    """One `edgekv serve` process in front of `store_url`."""

    store_url: str
    home: Path
    options: tuple[str, ...] = ()
    port: int = 0  # 0: any free port
    url: str = ""
    account_id: str = ""
    process: subprocess.Popen[bytes] | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def start(self) -> EdgeNode:
        self.home.mkdir(parents=True, exist_ok=True)
        command = [EDGEKV, "serve", "--no-auth", "--host", "127.0.0.1", "--port", str(self.port)]
        if "--workers" not in self.options:
            # One edge, one process: these tests pin an edge's own behaviour (its memory, its
            # feed, its health); a node of several workers is tests/server/test_workers.py's.
            command += ["--workers", "1"]
        command += ["--store", self.store_url, *self.options]
        self.process, self.url, self.account_id = spawn_serve(
            command, self.home, self.home / "serve.log"
        )
        return self

    def log(self) -> str:
        path = self.home / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None
        self.client.close()

    # the REST API

    @property
    def namespaces(self) -> str:
        return f"{self.url}/client/v4/accounts/{self.account_id}/storage/kv/namespaces"

    def create_namespace(self, title: str) -> str:
        reply = self.client.post(self.namespaces, json={"title": title})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["result"]["id"])

    def value_url(self, ns: str, key: str) -> str:
        return f"{self.namespaces}/{ns}/values/{key}"

    def put(self, ns: str, key: str, value: bytes) -> httpx.Response:
        return self.client.put(self.value_url(ns, key), content=value)

    def put_ok(self, ns: str, key: str, value: bytes) -> None:
        reply = self.put(ns, key, value)
        assert reply.status_code == 200, reply.text

    def get(self, ns: str, key: str, *, strong: bool = False, cache_ttl: int | None = None) -> Read:
        headers = {"Cache-Control": "no-cache"} if strong else {}
        params = {} if cache_ttl is None else {"cache_ttl": str(cache_ttl)}
        reply = self.client.get(self.value_url(ns, key), headers=headers, params=params)
        value = reply.content if reply.status_code == 200 else None
        return Read(reply.status_code, value, reply.headers.get("cf-cache-status"))

    def health(self) -> dict[str, Any]:
        reply = self.client.get(f"{self.url}/healthz")
        assert reply.status_code == 200, reply.text
        return dict(reply.json()["result"]["edge"])

    def rss(self) -> int:
        """The process's resident memory in bytes (VmRSS)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert match is not None
        return int(match[1]) * 1024


@contextlib.contextmanager
def edge_nodes(
    store_url: str | list[str], home: Path, count: int = 3, options: tuple[str, ...] = ()
) -> Iterator[list[EdgeNode]]:
    """`count` edges, each over `store_url` (or its own URL of a list, e.g. behind a proxy).

    The first starts alone (it creates the store's schema and default account), then the rest.
    """
    urls = store_url if isinstance(store_url, list) else [store_url] * count
    nodes = [EdgeNode(url, home / f"edge{i}", options) for i, url in enumerate(urls)]
    try:
        nodes[0].start()
        for node in nodes[1:]:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.005) -> float | None:
    """Seconds until `check()` held, polling; None if it never did within `timeout`."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(interval)


def reads(node: EdgeNode, ns: str, key: str, want: bytes | None) -> Callable[[], bool]:
    """A check for wait_until: an eventual read of `key` at `node` gives `want` (None: 404)."""
    return lambda: node.get(ns, key).value == want


def cached(node: EdgeNode, ns: str, key: str, want: bytes) -> Callable[[], bool]:
    """A check for wait_until: `node` answers `want` from its memory (a fetch that raced with
    the feed's news of the same write is not cached, so the first read may not be)."""

    def check() -> bool:
        read = node.get(ns, key)
        return (read.value, read.cache) == (want, "HIT")

    return check


def feed_healthy(node: EdgeNode) -> Callable[[], bool]:
    return lambda: bool(node.health()["feed_healthy"])
