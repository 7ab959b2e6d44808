"""Deadlines over SQLite: a file another process holds locked (a write transaction left open)
makes a write wait at most the URL's `timeout`, on an event loop that meanwhile answers other
requests (/healthz, reads: WAL readers are not locked out), and then answer 503; once the lock
is released, writes go on. Through a real `edgekv serve` edge (tests/server/faulted.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.faulted import FaultedEdge, check_fault, check_stop
from tests.stores.sqlite.test_faults import _LOCKER

TIMEOUT = 1.0


class Locker:
    """A process holding the file's write lock from `start()` to `end()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == b"locked\n"

    def end(self) -> None:
        if self.process is not None:
            self.process.communicate(b"", timeout=10)
            self.process = None


def test_a_locked_file_bounds_writes_and_the_edge_answers_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    locker = Locker(path)
    with FaultedEdge(f"sqlite:///{path}?timeout={TIMEOUT}", tmp_path / "edge") as edge:
        check_fault(edge, TIMEOUT, locker.start, locker.end, reads_fail=False)
        answer = edge.put("k", b"v")
        assert answer.status == 200
        check_stop(edge, locker.start, locker.end)
