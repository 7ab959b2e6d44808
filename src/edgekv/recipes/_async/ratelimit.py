"""Rate limits on atomic counters: fixed windows, or sliding windows (the weighted sum of the
current and previous fixed window, as Cloudflare's own limiter does).

Each window is its own key, so windows under Workers KV's 60 s minimum work: the key is stored
with a legal expiration and simply stops being read when its window has passed. A denied hit is
refunded, so clients that keep retrying do not push their own window further out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.cache.durations import Duration, seconds
from edgekv.cache.kv_format import kv_ttl


@dataclass
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # when the current window ends (epoch seconds)
    retry_after: float  # seconds until a denied hit may succeed (0 when allowed)
    count: float  # hits counted in the window (weighted, for sliding windows)


class AsyncRateLimiter:
    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        limit: int,
        window: Duration,
        sliding: bool = False,
        prefix: str = "ratelimit:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise errors.BadRequest("limit must be a positive integer")
        self.window = seconds(window, "window") or 0.0
        if self.window <= 0:
            raise errors.BadRequest("window must be positive")
        self.namespace = namespace
        self.limit = limit
        self.sliding = sliding
        self.prefix = prefix
        self._clock = clock

    async def hit(self, identity: str, cost: int = 1) -> RateLimitResult:
        """Counts a hit of `cost` against identity's window; `allowed` says whether it fits."""
        now = self._clock()
        index = math.floor(now / self.window)
        key = self._key(identity, index)
        ttl = kv_ttl(now, (index + 2) * self.window)
        count = await self.namespace.incr(key, cost, expiration_ttl=ttl)
        weighted = count + await self._previous(identity, index, now)
        if weighted <= self.limit:
            return self._result(True, weighted, index, now)
        await self.namespace.incr(key, -cost, expiration_ttl=ttl)
        return self._result(False, weighted - cost, index, now)

    async def peek(self, identity: str) -> RateLimitResult:
        """The state of identity's window without counting a hit."""
        now = self._clock()
        index = math.floor(now / self.window)
        current = await self._count(self._key(identity, index))
        weighted = current + await self._previous(identity, index, now)
        return self._result(weighted < self.limit, weighted, index, now)

    async def reset(self, identity: str) -> None:
        index = math.floor(self._clock() / self.window)
        await self.namespace.bulk_delete(
            [self._key(identity, index), self._key(identity, index - 1)]
        )

    def _key(self, identity: str, index: int) -> str:
        return f"{self.prefix}{identity}:{index}"

    async def _count(self, key: str) -> int:
        text = await self.namespace.get(key, consistency="strong")
        try:
            return int(text) if text else 0
        except ValueError:
            return 0

    async def _previous(self, identity: str, index: int, now: float) -> float:
        if not self.sliding:
            return 0.0
        elapsed = (now - index * self.window) / self.window
        return await self._count(self._key(identity, index - 1)) * (1.0 - elapsed)

    def _result(self, allowed: bool, count: float, index: int, now: float) -> RateLimitResult:
        reset_at = (index + 1) * self.window
        remaining = max(0, math.floor(self.limit - count))
        retry_after = 0.0 if allowed else max(0.0, reset_at - now)
        return RateLimitResult(allowed, self.limit, remaining, reset_at, retry_after, count)
