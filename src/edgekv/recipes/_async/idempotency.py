"""Webhook idempotency: exactly one worker processes a delivery.

`claim` is a conditional write (only if absent), so of many concurrent claims of one delivery,
across processes, exactly one wins; the others see who holds it or that it is done. A claim
lasts `claim_ttl`: if its worker dies, the claim expires and the next claim takes it over with
a write conditional on the version it read, so again only one wins. `complete` stores a
completion record (conditional on still holding the claim) that is kept for `keep`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.cache.durations import Duration, seconds
from edgekv.cache.kv_format import kv_ttl

State = Literal["claimed", "processing", "done"]


class ClaimLost(errors.PreconditionFailed):
    """The claim expired and another worker took the delivery over."""

    default_message = "the claim expired and was taken over"


@dataclass
class Claim:
    """The outcome of `claim`: `claimed` is True for the one worker that must process it.

    state: "claimed" (yours), "processing" (another worker holds it), "done" (see `result`).
    """

    delivery_id: str
    claimed: bool
    state: State
    version: int = 0
    token: str = ""
    attempt: int = 1
    result: Any = None
    claimed_until: float = 0.0


class AsyncIdempotency:
    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        prefix: str = "delivery:",
        claim_ttl: Duration = "5m",
        keep: Duration = "7d",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.prefix = prefix
        self.claim_ttl = seconds(claim_ttl, "claim_ttl") or 0.0
        self.keep = seconds(keep, "keep") or 0.0
        self._clock = clock

    async def claim(self, delivery_id: str) -> Claim:
        key = self.prefix + delivery_id
        while True:
            now = self._clock()
            token = secrets.token_hex(16)
            until = now + self.claim_ttl
            record = {"state": "processing", "owner": token, "until": until, "attempt": 1}
            try:
                version = await self.namespace.put(
                    key,
                    json.dumps(record),
                    expiration_ttl=kv_ttl(now, now + self.keep),
                    only_if_absent=True,
                )
                return Claim(delivery_id, True, "claimed", version, token, 1, None, until)
            except errors.PreconditionFailed:
                pass
            held = await self.namespace.get_with_metadata(key, "json", consistency="strong")
            doc = held.value
            if not isinstance(doc, dict):
                continue  # deleted meanwhile: claim again
            if doc.get("state") == "done":
                return Claim(
                    delivery_id, False, "done", held.version or 0, result=doc.get("result")
                )
            if doc.get("state") == "processing" and float(doc.get("until", 0)) > now:
                return Claim(
                    delivery_id,
                    False,
                    "processing",
                    held.version or 0,
                    attempt=int(doc.get("attempt", 1)),
                    claimed_until=float(doc["until"]),
                )
            # Its worker died or released it: take it over, if nobody else does first.
            record["attempt"] = attempt = int(doc.get("attempt", 1)) + 1
            try:
                version = await self.namespace.put(
                    key,
                    json.dumps(record),
                    expiration_ttl=kv_ttl(now, now + self.keep),
                    if_version=held.version,
                )
                return Claim(delivery_id, True, "claimed", version, token, attempt, None, until)
            except errors.PreconditionFailed:
                continue  # another worker took it over: see who

    async def complete(self, claim: Claim, result: Any = None) -> None:
        """Records the delivery as done (with a JSON-able result); ClaimLost if it expired and
        another worker took it over meanwhile."""
        await self._finish(claim, {"state": "done", "result": result, "attempt": claim.attempt})

    async def release(self, claim: Claim) -> None:
        """Gives the claim up (processing failed): the next claim takes it at once."""
        await self._finish(claim, {"state": "released", "until": 0, "attempt": claim.attempt})

    async def status(self, delivery_id: str) -> dict[str, Any] | None:
        found = await self.namespace.get(self.prefix + delivery_id, "json", consistency="strong")
        return found if isinstance(found, dict) else None

    async def _finish(self, claim: Claim, record: dict[str, Any]) -> None:
        if not claim.claimed:
            raise errors.BadRequest(
                f"delivery {claim.delivery_id!r} was not claimed by this worker"
            )
        now = self._clock()
        try:
            claim.version = await self.namespace.put(
                self.prefix + claim.delivery_id,
                json.dumps(record),
                expiration_ttl=kv_ttl(now, now + self.keep),
                if_version=claim.version,
            )
        except errors.PreconditionFailed as e:
            raise ClaimLost() from e
        claim.claimed = False
        claim.state = "done" if record["state"] == "done" else "processing"
