"""`GET /healthz`: what a load balancer asks, answered within PROBE_TIMEOUT whatever the central
store does.

Each dependency is one check: `central_store` (the store answers a look at its change feed's
end) and, on an edge that follows the feed, `change_feed` (its follower's last read worked).
A check says `ok` or `unavailable: <reason>` in edgekv's words (`timed out`, `connection
refused`: never an address). The status is 200 while the central store answers, 503 (with the
StoreUnavailable envelope) while it does not; a cut feed alone keeps 200, as the edge still
reads and writes through the store and cache_ttl bounds what it may serve meanwhile.

The probe runs in a task of its own, waited for at most PROBE_TIMEOUT and then left to end by
the store's own deadline, and its answer is reused for PROBE_EVERY: health checks from many
balancers cost the store one look a second, and a frozen store never holds them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from starlette.responses import Response

from edgekv import errors
from edgekv.server.envelope import failure, ok
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores.faults import reason_of

PROBE_TIMEOUT = 1.0  # seconds a health check waits for the central store
PROBE_EVERY = 1.0  # seconds a probe's answer is reused
OK = "ok"
log = logging.getLogger("edgekv.server")


class CentralProbe:
    """The `central_store` check: one probe at a time, its answer reused for PROBE_EVERY."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self._probe: asyncio.Task[str] | None = None
        self._started = 0.0

    async def check(self) -> str:
        now = time.monotonic()
        probe = self._probe
        if probe is None or (probe.done() and now - self._started >= PROBE_EVERY):
            probe = self._probe = asyncio.create_task(self._ask())
            self._started = now
        if not probe.done():
            left = self._started + PROBE_TIMEOUT - now
            if left > 0:
                await asyncio.wait({probe}, timeout=left)
            if not probe.done():
                return "unavailable: timed out"
        return probe.result()

    async def _ask(self) -> str:
        try:
            await self.store.feed_position()
        except (errors.StoreUnavailable, TimeoutError) as e:
            return f"unavailable: {reason_of(e)}"
        except Exception:
            log.exception("health probe of the central store failed")
            return "unavailable: error"
        return OK

    def close(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()


def answer(checks: dict[str, str], extra: dict[str, Any]) -> Response:
    """200 with `status` ok while the central store answers, else 503 with the envelope of
    its StoreUnavailable; the checks and the rest of the health in `result` either way."""
    result = {"status": OK, "checks": checks, **extra}
    central = checks.get("central_store", OK)
    if central == OK:
        return ok(result)
    error = errors.StoreUnavailable(
        f"{errors.StoreUnavailable.default_message}: {central.removeprefix('unavailable: ')}"
    )
    result["status"] = "unavailable"
    return failure(error, result=result)


def feed_check(healthy: bool, reason: str) -> str:
    return OK if healthy else f"unavailable: {reason or 'cut'}"
