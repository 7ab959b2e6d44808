"""How long a store waits for its central store: the deadlines every store URL may set.

`?timeout=5&connect_timeout=2` on any store URL (sqlite, postgresql, redis, redis+cluster,
http(s), relay): `timeout` bounds each call (for SQLite, the wait for another process's write
lock; for a pooled store, waiting for a connection too), `connect_timeout` each new
connection. A call the store does not answer in time fails with StoreUnavailable `central store
unavailable: timed out` (503), never a hang. docs/stores.md lists what each store does with
them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from edgekv import errors

TIMEOUT = 5.0  # seconds per call, unless the URL says otherwise
CONNECT_TIMEOUT = 2.0  # seconds per new connection
# The query options each store takes off its URL (the drivers' own names included, where a
# store accepted those before: redis-py's socket_timeout and socket_connect_timeout).
DEADLINE_OPTIONS = ("timeout", "connect_timeout", "socket_timeout", "socket_connect_timeout")


@dataclass(frozen=True)
class Deadlines:
    timeout: float = TIMEOUT
    connect_timeout: float = CONNECT_TIMEOUT

    @classmethod
    def of(
        cls,
        options: Mapping[str, str],
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        default_timeout: float = TIMEOUT,
    ) -> Deadlines:
        """From a URL's query options; an argument given in code wins over the URL."""
        return cls(
            timeout if timeout is not None else _seconds(options, "timeout", default_timeout),
            connect_timeout
            if connect_timeout is not None
            else _seconds(options, "connect_timeout", CONNECT_TIMEOUT),
        )


def _seconds(options: Mapping[str, str], name: str, default: float) -> float:
    text = options.get(name)
    if text is None or text == "":
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds <= 3600):
        raise errors.BadRequest(
            f"store URL option {name} must be seconds, more than 0 and at most 3600"
        )
    return seconds
