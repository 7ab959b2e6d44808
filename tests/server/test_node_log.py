"""The node's change log (server/node_log.py) across real forked processes."""

from __future__ import annotations

import os

from edgekv.server.node_log import FLUSH, KEY, NAMESPACE, RING_SLOTS, Entry, NodeLog


def test_what_one_process_appends_another_reads() -> None:
    log = NodeLog.create(2)
    try:
        pid = os.fork()
        if pid == 0:  # a worker: appends and leaves
            code = 1
            try:
                log.append([Entry(KEY, "a" * 32, "k\u00e9y/\n", 7), Entry(NAMESPACE, "b" * 32)])
                log.write_health(1, {"worker": 1, "beat": 1.5})
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        entries, end, lost = log.read(0)
        assert (end, lost) == (2, False)
        assert entries == [Entry(KEY, "a" * 32, "k\u00e9y/\n", 7), Entry(NAMESPACE, "b" * 32)]
        assert log.health() == [None, {"worker": 1, "beat": 1.5}]
        log.forget_health(1)
        assert log.health() == [None, None]
    finally:
        log.close()


def test_a_reader_the_ring_passed_is_told_to_flush() -> None:
    log = NodeLog.create(1)
    try:
        log.append([Entry(KEY, "n" * 32, f"k{i}", i) for i in range(RING_SLOTS + 1)])
        assert log.read(0) == ([], RING_SLOTS + 1, True)
        entries, end, lost = log.read(1)  # exactly the ring's length behind: all still there
        assert (len(entries), end, lost) == (RING_SLOTS, RING_SLOTS + 1, False)
        assert entries[-1] == Entry(KEY, "n" * 32, f"k{RING_SLOTS}", RING_SLOTS)
    finally:
        log.close()


def test_what_does_not_fit_a_slot_widens() -> None:
    log = NodeLog.create(1)
    try:
        log.append([Entry(KEY, "n" * 32, "k" * 600, 3), Entry(KEY, "x" * 65, "k", 3)])
        entries, _, _ = log.read(0)
        assert entries == [Entry(NAMESPACE, "n" * 32, "", 3), Entry(FLUSH, "", "", 3)]
    finally:
        log.close()
