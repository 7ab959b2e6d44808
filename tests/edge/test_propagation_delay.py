"""`edgekv serve --propagation-delay SECONDS`: two edges over one SQLite file. With the delay,
the other edge keeps answering the value it holds in memory for the delay after a write, as a
Workers KV location does; the writing edge reads its write at once; without the flag, the other
edge has it well within a second. This is also the example docs/emulation.md shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from edgekv.model import DEFAULT_ACCOUNT
from tests.server.test_serve import serving

DELAY = 4.0


def edges(stack: ExitStack, data_dir: Path, *flags: str) -> tuple[str, str]:
    """Edge A (no flag: the writer) and edge B (with `flags`) over one store; their KV bases."""
    base = f"/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"
    urls = []
    for extra in ((), flags):
        _, url, _ = stack.enter_context(serving(data_dir, "--no-auth", "--workers", "1", *extra))
        urls.append(url + base)
    return urls[0], urls[1]


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[tuple[ExitStack, Path]]:
    with ExitStack() as stack:
        yield stack, tmp_path


def value(url: str) -> bytes:
    answer = httpx.get(url)
    assert answer.status_code == 200, answer.text
    return answer.content


@pytest.mark.parametrize("delayed", [True, False])
def test_another_edge_reads_the_old_value_for_the_delay(
    namespace: tuple[ExitStack, Path], delayed: bool
) -> None:
    stack, data_dir = namespace
    flags = ("--propagation-delay", str(DELAY)) if delayed else ()
    a, b = edges(stack, data_dir, *flags)
    ns = httpx.post(a, json={"title": "app"}).json()["result"]["id"]
    key = f"{ns}/values/config"
    assert httpx.put(f"{a}/{key}", content=b"v1").status_code == 200
    assert value(f"{b}/{key}") == b"v1"  # B holds v1 in memory now

    assert httpx.put(f"{a}/{key}", content=b"v2").status_code == 200
    written = time.monotonic()
    assert value(f"{a}/{key}") == b"v2"  # the writing edge reads its own write at once
    time.sleep(1.0)  # far longer than the change feed takes (milliseconds)
    if not delayed:
        assert value(f"{b}/{key}") == b"v2"
        return
    # B still answers what it holds: the stale read a Worker would get at another location.
    stale = httpx.get(f"{b}/{key}")
    assert stale.content == b"v1"
    assert stale.headers["cf-cache-status"] == "HIT"
    # A key B does not hold is read from the central store: the new value at once.
    assert httpx.put(f"{a}/{ns}/values/fresh", content=b"new").status_code == 200
    assert value(f"{b}/{ns}/values/fresh") == b"new"
    # ...and after the delay, B has the write.
    while value(f"{b}/{key}") != b"v2":
        assert time.monotonic() - written < DELAY + 30, "B never saw the write"
        time.sleep(0.1)
    assert time.monotonic() - written >= DELAY - 0.5  # not before (the change's own time)


def test_a_deleted_key_stays_at_another_edge_for_the_delay(
    namespace: tuple[ExitStack, Path],
) -> None:
    stack, data_dir = namespace
    a, b = edges(stack, data_dir, "--propagation-delay", str(DELAY))
    ns = httpx.post(a, json={"title": "app"}).json()["result"]["id"]
    key = f"{ns}/values/session"
    assert httpx.put(f"{a}/{key}", content=b"alive").status_code == 200
    assert value(f"{b}/{key}") == b"alive"
    assert httpx.delete(f"{a}/{key}").status_code == 200
    assert httpx.get(f"{a}/{key}").status_code == 404
    time.sleep(1.0)
    assert value(f"{b}/{key}") == b"alive"
