"""A clock that tests move: expirations and cache_ttl without sleeping."""

from __future__ import annotations

import time


class Clock:
    """`clock()` is the time it was set to; `clock.advance(61)` moves it on.

    Give it to what takes `clock=` (`KV`, `AsyncKV`, the stores, the edge, the recipes): a key
    put with `expiration_ttl=60` is gone after `clock.advance(60)`, and an edge read answered
    from memory is asked again once `cache_ttl` seconds have passed on this clock.
    """

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = float(now)

    def __repr__(self) -> str:
        return f"<Clock {self.now}>"
