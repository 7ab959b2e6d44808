"""Deadlines over a relay: the link to the relay black-holed (tests/tcpproxy.py: connections
accepted, nothing carried), through a real `edgekv serve` edge with `?timeout=1` (checks in
tests/server/faulted.py): 503 within the deadline, /healthz at once, cached keys served, and
everything back once the link is restored, without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekv.testing.server import _EDGEKV, clean_env, spawn_serve, stop_process
from tests.server.faulted import FaultedEdge, check_fault, check_stop
from tests.tcpproxy import TcpProxy

TIMEOUT = 1.0
SECRET = "relay-secret-for-deadlines"


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[int]:
    """An `edgekv serve --relay-secret` over SQLite."""
    home = tmp_path / "relay"
    home.mkdir()
    command = [*_EDGEKV, "serve", "--no-auth", "--port", "0", "--workers", "1"]
    command += ["--data-dir", str(home / "data"), "--relay-secret", SECRET]
    command += ["--cache-size", "16MB"]
    process, found = spawn_serve(command, home / "serve.log", clean_env())
    try:
        yield int(found["url"].rsplit(":", 1)[1])
    finally:
        stop_process(process)


def test_a_black_holed_relay(relay: int, tmp_path: Path) -> None:
    with TcpProxy(relay) as proxy:
        url = f"relay://:{SECRET}@127.0.0.1:{proxy.port}?timeout={TIMEOUT:g}&connect_timeout=1"
        with FaultedEdge(url, tmp_path / "edge") as edge:
            check_fault(
                edge, TIMEOUT, proxy.blackhole, proxy.restore, down="unavailable: timed out"
            )
            check_stop(edge, proxy.blackhole, proxy.restore)
