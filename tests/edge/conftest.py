"""Prints the propagation delays the edge-node tests observed (no test asserts on them)."""

from __future__ import annotations

import statistics

import pytest

from tests.edge.scenarios import DELAYS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for store, delays in sorted(DELAYS.items()):
        ms = sorted(d * 1000 for d in delays)
        terminalreporter.write_line(
            f"edge propagation via {store}: n={len(ms)} median={statistics.median(ms):.1f} ms "
            f"max={ms[-1]:.1f} ms"
        )
