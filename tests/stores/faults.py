"""What every store's fault tests check of the StoreUnavailable a driver's fault became."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

import pytest

from edgekv import errors

# edgekv's words only: no host, port, path or driver text (no digits, dots, colons, quotes).
CLEAN = re.compile(r"central store unavailable: [A-Za-z/ -]+")
Call = Callable[[], Awaitable[object]]


def check_clean(
    caught: errors.StoreUnavailable, caplog: pytest.LogCaptureFixture, driver: type[Exception]
) -> None:
    """The message is edgekv's, the driver's error is its cause, and the store's log has the
    driver's own text."""
    assert CLEAN.fullmatch(caught.message), caught.message
    cause = caught.__cause__
    assert isinstance(cause, driver), repr(cause)
    assert str(cause) not in caught.message
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("edgekv.")]
    assert any(str(cause) in line for line in logged), logged


async def each_unavailable(
    calls: Sequence[Call], caplog: pytest.LogCaptureFixture, driver: type[Exception]
) -> list[str]:
    """Each call fails within 10 s (a bounded answer, never a hang) with a StoreUnavailable
    that passes check_clean; their messages."""
    messages = []
    for call in calls:
        async with asyncio.timeout(10):
            with pytest.raises(errors.StoreUnavailable) as caught:
                await call()
        check_clean(caught.value, caplog, driver)
        messages.append(caught.value.message)
    return messages


def closed_port() -> int:
    """A loopback port nothing listens on (just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
