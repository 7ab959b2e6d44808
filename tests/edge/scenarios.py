"""What every central store's edges must do, written once and run per store family.

Each scenario takes running edge nodes (tests/edge/nodes.py) and asserts the issue's
promises: read-your-writes at the writing edge, propagation through the change feed within a
generous bound, monotonic reads, strong reads, and behaviour while the central store is down.
Observed propagation delays are recorded in `DELAYS` and printed at the end of the session.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.edge.nodes import EdgeNode, Read, cached, feed_healthy, wait_until

# The feed's delay is milliseconds; this bound only catches "never" (2 s of backoff at most).
CONVERGE_WITHIN = 10.0

DELAYS: dict[str, list[float]] = defaultdict(list)


def version_of(value: bytes | None) -> int:
    """Values are b"v<n>": the order in which the test wrote them."""
    return -1 if value is None else int(value.split(b":")[0][1:])


def converge(node: EdgeNode, ns: str, key: str, want: bytes, seen: list[int]) -> float:
    """Polls eventual reads until `want`; asserts no read went back in time. Returns the delay."""

    def check() -> bool:
        read = node.get(ns, key)
        assert read.status in (200, 404), read
        version = version_of(read.value)
        assert version >= seen[-1], f"{node.url} went back from v{seen[-1]} to v{version}"
        seen.append(version)
        return read.value == want

    delay = wait_until(check, CONVERGE_WITHIN)
    assert delay is not None, f"{node.url} still serves v{seen[-1]}, not {want!r}: {node.log()}"
    return delay


def write_and_propagate(store: str, nodes: list[EdgeNode], ns: str, rounds: int = 6) -> None:
    """Each round one edge writes; it reads its write at once, the others within the feed delay."""
    key = "propagating"
    nodes[0].put_ok(ns, key, b"v0:")
    seen = {id(n): [-1] for n in nodes}
    for node in nodes:
        converge(node, ns, key, b"v0:", seen[id(node)])
    for n in range(1, rounds + 1):
        for node in nodes:  # every edge holds the old value: the feed, not a miss, must act
            assert node.get(ns, key).value == f"v{n - 1}:".encode()
        writer = nodes[n % len(nodes)]
        value = f"v{n}:".encode()
        writer.put_ok(ns, key, value)
        mine = writer.get(ns, key)
        assert (mine.value, mine.cache) == (value, "HIT"), "read-your-writes at the writing edge"
        seen[id(writer)].append(n)
        for node in nodes:
            if node is not writer:
                DELAYS[store].append(converge(node, ns, key, value, seen[id(node)]))


def strong_reads_bypass(nodes: list[EdgeNode], ns: str) -> None:
    key = "strong"
    nodes[0].put_ok(ns, key, b"v1:")
    for node in nodes:
        assert node.get(ns, key, strong=True).value == b"v1:"
        node.get(ns, key)
    nodes[1].put_ok(ns, key, b"v2:")
    for node in nodes:  # no waiting for the feed: a strong read goes to the central store
        read = node.get(ns, key, strong=True)
        assert (read.value, read.cache) == (b"v2:", "BYPASS")


def feed_catches_up_after_cut(
    nodes: list[EdgeNode], ns: str, cut: Callable[[], None], resume: Callable[[], None]
) -> None:
    """nodes[1] is cut off while nodes[0] writes; once back, the feed drops what it missed."""
    key = "cut-short"
    nodes[0].put_ok(ns, key, b"v1:")
    assert wait_until(cached(nodes[1], ns, key, b"v1:"), CONVERGE_WITHIN) is not None
    cut()
    try:
        read = nodes[1].get(ns, key)
        assert (read.value, read.cache) == (b"v1:", "HIT"), (
            f"a cached read survives the cut: {read}"
        )
        nodes[0].put_ok(ns, key, b"v2:")
        assert nodes[1].get(ns, key).value == b"v1:"  # within cache_ttl, and nothing told it
        assert nodes[1].get(ns, "never-cached").status == 503, "an uncached read fails fast"
    finally:
        resume()
    seen = [1]
    converge(nodes[1], ns, key, b"v2:", seen)
    assert wait_until(feed_healthy(nodes[1]), CONVERGE_WITHIN) is not None


def staleness_bounded_by_cache_ttl(
    nodes: list[EdgeNode], ns: str, cut: Callable[[], None], resume: Callable[[], None]
) -> None:
    """With the feed cut, nodes[1] serves its old value no longer than cache_ttl=30 s."""
    key = "cut-long"
    nodes[0].put_ok(ns, key, b"v1:")
    fetched = 0.0
    for _ in range(100):
        read = nodes[1].get(ns, key, cache_ttl=30)
        if read.cache == "HIT":
            break
        # A fetch that raced with the feed's news of v1 is not cached: read again.
        fetched = time.monotonic()  # the edge's fetch of what it holds ended before this
    assert (read.value, read.cache) == (b"v1:", "HIT"), read
    cut()
    try:
        nodes[0].put_ok(ns, key, b"v2:")
        old_until = 0.0
        while time.monotonic() - fetched < 33:
            read = nodes[1].get(ns, key, cache_ttl=30)
            if read.value == b"v1:":
                old_until = time.monotonic() - fetched
            else:
                assert read.status == 503, read  # the central store is unreachable
            time.sleep(0.25)
        assert 0 < old_until < 30.5, f"old value served {old_until:.1f} s after its fetch"
    finally:
        resume()
    seen = [1]
    converge(nodes[1], ns, key, b"v2:", seen)


@dataclass
class Load:
    """Writers and readers against edges while the central store goes away and comes back."""

    nodes: list[EdgeNode]
    ns: str
    acknowledged: set[str] = field(default_factory=set)
    write_status: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    read_status: dict[tuple[int, str | None], int] = field(default_factory=lambda: defaultdict(int))
    bad: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for node in self.nodes:  # a hot key every edge has cached
            node.put_ok(self.ns, "hot", b"v1:")
        for node in self.nodes:
            assert wait_until(cached(node, self.ns, "hot", b"v1:"), 5) is not None
        for i, node in enumerate(self.nodes):
            self._threads.append(threading.Thread(target=self._write, args=(i, node)))
            self._threads.append(threading.Thread(target=self._read, args=(node,)))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _write(self, i: int, node: EdgeNode) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                key = f"load-{i}-{n}"
                n += 1
                try:
                    reply = client.put(node.value_url(self.ns, key), content=key.encode())
                except httpx.HTTPError as e:
                    self.bad.append(f"PUT {key}: {e!r}")
                    continue
                self.write_status[reply.status_code] += 1
                if reply.status_code == 200:
                    self.acknowledged.add(key)
                elif reply.status_code != 503 or reply.json()["errors"][0]["code"] != 10102:
                    self.bad.append(f"PUT {key}: {reply.status_code} {reply.text}")
                else:
                    time.sleep(0.05)

    def _read(self, node: EdgeNode) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                reply = client.get(node.value_url(self.ns, "hot"))
                status = reply.headers.get("cf-cache-status")
                self.read_status[(reply.status_code, status)] += 1
                if reply.status_code != 200 or reply.content != b"v1:":
                    self.bad.append(f"cached GET: {reply.status_code} {reply.text}")
                time.sleep(0.01)


def survive_restart(nodes: list[EdgeNode], ns: str, restart: Callable[[], None]) -> Load:
    """Restarts the central store under load: cached reads go on, acknowledged writes stay,
    failed writes are 503 envelopes, and every edge recovers by itself."""
    load = Load(nodes, ns).start()
    try:
        time.sleep(0.5)
        before = len(load.acknowledged)
        restart()
        # recovered: every edge takes writes again (the writers are still going)
        for node in nodes:
            recovered = wait_until(functools.partial(_put_works, node, ns), 30, interval=0.2)
            assert recovered is not None, f"{node.url} did not recover: {node.log()[-3000:]}"
        time.sleep(0.5)
    finally:
        load.stop()
    assert not load.bad, load.bad[:10]
    assert before > 0 and len(load.acknowledged) > before
    for node in nodes:
        assert wait_until(feed_healthy(node), CONVERGE_WITHIN) is not None
    return load


def _put_works(node: EdgeNode, ns: str) -> bool:
    return node.put(ns, "probe", b"probe").status_code == 200


def missing(node: EdgeNode, ns: str, keys: set[str]) -> list[str]:
    """Acknowledged keys a strong read through `node` does not find."""
    return [k for k in sorted(keys) if node.get(ns, k, strong=True).value != k.encode()]


def statuses(read: Read) -> str:
    return f"{read.status} {read.cache}"
