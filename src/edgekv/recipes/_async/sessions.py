"""Sessions in a namespace: ids from `secrets`, sliding expiry, strong reads.

Reads are strong (`consistency="strong"`), so a session deleted at logout is gone for every
process at once, also behind an edge cache. Expiry is checked at read time against the
session's own times, so a TTL under Workers KV's 60 s minimum still holds.

`format="worker"` stores sessions as the seeds' Worker code does (`{userId, ..., expiresAt}`
with `createdAt` metadata, see session_shapes.py), so their `getSession` reads what Python
wrote and Python reads what they wrote.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.cache.durations import Duration, seconds
from edgekv.cache.kv_format import kv_ttl
from edgekv.recipes import session_shapes
from edgekv.recipes.session_shapes import SessionFormat, Stored

_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
_RETRIES = 8


@dataclass
class Session:
    id: str
    data: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    expires_at: float = 0.0
    absolute_expires_at: float | None = None
    version: int = 0


class AsyncSessions:
    """`create`, `get`, `touch` (slides the expiry), `update`, `delete`.

    ttl: idle time after which a session expires; absolute_ttl: a hard limit from creation.
    """

    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        ttl: Duration = "30m",
        absolute_ttl: Duration | None = None,
        prefix: str = "session:",
        id_bytes: int = 32,
        format: SessionFormat = "edgekv",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.format = session_shapes.check_format(format)
        self.ttl = seconds(ttl, "ttl") or 0.0
        if self.ttl <= 0:
            raise errors.BadRequest("A session ttl must be positive.")
        self.absolute_ttl = seconds(absolute_ttl, "absolute_ttl")
        self.prefix = prefix
        self.id_bytes = max(16, id_bytes)
        self._clock = clock

    async def create(self, data: dict[str, Any] | None = None) -> Session:
        now = self._clock()
        absolute = None if self.absolute_ttl is None else now + self.absolute_ttl
        session = Session(
            secrets.token_urlsafe(self.id_bytes), dict(data or {}), now, 0.0, absolute
        )
        session.expires_at = self._expiry(now, absolute)
        value, metadata = self._encode(session)
        # only_if_absent: an id collision (astronomically unlikely) must never share a session
        session.version = await self.namespace.put(
            self.prefix + session.id,
            value,
            expiration_ttl=kv_ttl(now, session.expires_at),
            metadata=metadata,
            only_if_absent=True,
        )
        return session

    async def get(self, session_id: str) -> Session | None:
        """The session, or None when it is unknown, malformed, expired or deleted."""
        if not isinstance(session_id, str) or not _ID.fullmatch(session_id):
            return None
        found = await self.namespace.get_with_metadata(
            self.prefix + session_id, "json", consistency="strong"
        )
        stored = session_shapes.decode(self.format, found.value, found.metadata)
        if stored is None or session_shapes.expired(self.format, stored, self._clock()):
            return None
        return Session(session_id, *stored, found.version or 0)

    async def touch(self, session_id: str) -> Session | None:
        """Slides the expiry to now + ttl (capped by absolute_ttl); None if the session is gone."""
        return await self._rewrite(session_id, None)

    async def update(self, session_id: str, data: dict[str, Any]) -> Session | None:
        """Replaces the session's data and slides its expiry; None if the session is gone."""
        return await self._rewrite(session_id, dict(data))

    async def delete(self, session_id: str) -> None:
        if isinstance(session_id, str) and _ID.fullmatch(session_id):
            await self.namespace.delete(self.prefix + session_id)

    async def _rewrite(self, session_id: str, data: dict[str, Any] | None) -> Session | None:
        for _ in range(_RETRIES):
            session = await self.get(session_id)
            if session is None:
                return None
            now = self._clock()
            if data is not None:
                session.data = data
            session.expires_at = self._expiry(now, session.absolute_expires_at)
            value, metadata = self._encode(session)
            try:
                session.version = await self.namespace.put(
                    self.prefix + session_id,
                    value,
                    expiration_ttl=kv_ttl(now, session.expires_at),
                    metadata=metadata,
                    if_version=session.version,
                )
                return session
            except errors.PreconditionFailed:
                continue  # written (or deleted) meanwhile: read it again
        raise errors.PreconditionFailed("session changed too often to update it")

    def _encode(self, session: Session) -> tuple[str, Any]:
        stored = Stored(
            session.data, session.created_at, session.expires_at, session.absolute_expires_at
        )
        return session_shapes.encode(self.format, stored)

    def _expiry(self, now: float, absolute: float | None) -> float:
        sliding = now + self.ttl
        return sliding if absolute is None else min(sliding, absolute)
