"""Deadlines over PostgreSQL: the link to the server black-holed (tests/tcpproxy.py: connections
accepted, nothing carried, as behind a firewall that drops packets), through a real `edgekv
serve` edge with `?timeout=1` (checks in tests/server/faulted.py): 503 within the deadline,
/healthz at once, cached keys served, and everything back once the link is restored, without
a restart; a stop meanwhile ends in bounded time."""

from __future__ import annotations

from pathlib import Path

from tests.server.faulted import FaultedEdge, check_fault, check_stop
from tests.stores.postgres.test_faults import _through, proxy  # noqa: F401 (a fixture)
from tests.tcpproxy import TcpProxy

TIMEOUT = 1.0


def test_a_black_holed_link(proxy: TcpProxy, tmp_path: Path) -> None:  # noqa: F811
    url = f"{_through(proxy)}&timeout={TIMEOUT:g}&connect_timeout=2"
    with FaultedEdge(url, tmp_path / "edge") as edge:
        check_fault(edge, TIMEOUT, proxy.blackhole, proxy.restore, down="unavailable: timed out")
        check_stop(edge, proxy.blackhole, proxy.restore)
