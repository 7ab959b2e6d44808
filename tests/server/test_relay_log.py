"""A relay's change log (server/relay_log.py): positions, long polls, and when it says behind."""

from __future__ import annotations

import asyncio
import time

from edgekv.model import Change
from edgekv.server.relay_log import RelayLog


def _changes(*keys: str) -> list[Change]:
    return [Change(i + 1, "n" * 32, key) for i, key in enumerate(keys)]


def test_pages_follow_positions() -> None:
    log = RelayLog()
    start = log.position()
    log.applied(_changes("a", "b", "c"))
    page = log.page(start, 2)
    assert [c.key for c in page.changes] == ["a", "b"] and not page.behind
    rest = log.page(page.position, 1000)
    assert [c.key for c in rest.changes] == ["c"]
    assert log.page(rest.position, 1000).changes == []
    assert [c.key for c in log.page(None, 1000).changes] == ["a", "b", "c"]  # oldest kept


def test_behind_after_a_restart_a_flush_or_an_overflow() -> None:
    log = RelayLog(capacity=4)
    before = log.position()
    log.applied(_changes("a"))
    other = RelayLog()  # the relay restarted: another epoch
    assert other.page(before, 10).behind
    log.flushed()
    after = log.page(before, 10)
    assert after.behind and after.position == log.position()
    assert not log.page(after.position, 10).behind
    assert log.page(None, 10).changes == []  # nothing before the flush is offered
    mark = log.position()
    log.applied(_changes("b", "c", "d", "e", "f"))  # more than the log keeps past `mark`
    assert log.page(mark, 10).behind
    for bad in ("garbage", f"{log.epoch}.x", f"{log.epoch}.99"):
        assert log.page(bad, 10).behind


async def test_a_long_poll_returns_with_the_next_change() -> None:
    log = RelayLog()
    position = log.position()
    started = time.monotonic()
    waiting = asyncio.ensure_future(log.wait(position, 10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    log.applied(_changes("a"))
    await asyncio.wait_for(waiting, 1)
    assert time.monotonic() - started < 1
    assert [c.key for c in log.page(position, 10).changes] == ["a"]
    await log.wait(position, 10)  # a change is there already: at once
    idle = time.monotonic()
    await log.wait(log.position(), 0.1)  # none comes: after the wait
    assert time.monotonic() - idle >= 0.09


async def test_a_look_after_a_write_waits_for_the_feed_to_show_it() -> None:
    read_at = [0.0]
    log = RelayLog(read_at=lambda: read_at[0])
    await asyncio.wait_for(log.fresh(), 1)  # nothing written through the relay: at once
    log.acknowledged()
    looking = asyncio.ensure_future(log.fresh())
    await asyncio.sleep(0.05)
    read_at[0] = time.monotonic() - 10  # a page asked for before the write: not yet
    log.applied([])
    await asyncio.sleep(0.05)
    assert not looking.done()
    read_at[0] = time.monotonic()  # asked for after it
    log.applied(_changes("written"))
    await asyncio.wait_for(looking, 1)
