"""How a session is stored, I/O-free: edgekv's shape, or the Worker's of seeds 002 and 003.

- `edgekv`: `{"data": {...}, "created": s, "expires": s, "absolute": s | null}`, no metadata.
- `worker`: seed 003's `createSession` writes `{"userId": ..., "expiresAt": <ms>}` with metadata
  `{"createdAt": <ms>}`, and its `getSession` reads `expiresAt` as milliseconds; seed 002's
  `validateSession` reads it with `new Date(...)`, which takes those milliseconds as well. So
  the session's data (which must hold `userId`) is stored as the value, with `expiresAt` after
  it, byte for byte as `JSON.stringify` writes it. Sessions a seed-002 Worker wrote (ISO-8601
  `expiresAt` and `createdAt` in the value) are read too.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal, NamedTuple

from edgekv import errors
from edgekv.recipes.worker_json import stringify

SessionFormat = Literal["edgekv", "worker"]
FORMATS = ("edgekv", "worker")


class Stored(NamedTuple):
    data: dict[str, Any]
    created_at: float
    expires_at: float
    absolute_expires_at: float | None


def check_format(format: str) -> SessionFormat:
    if format not in FORMATS:
        raise errors.BadRequest(f'Unknown session format {format!r}: use "edgekv" or "worker".')
    return format  # type: ignore[return-value]


def encode(format: SessionFormat, session: Stored) -> tuple[str, Any]:
    """The value to store and its metadata (None: none)."""
    if format == "edgekv":
        doc = {
            "data": session.data,
            "created": session.created_at,
            "expires": session.expires_at,
            "absolute": session.absolute_expires_at,
        }
        return stringify(doc), None
    if "userId" not in session.data:
        raise errors.BadRequest(
            "A session in the Worker's format needs a userId in its data ({userId, expiresAt})."
        )
    value = {**session.data, "expiresAt": _ms(session.expires_at)}
    metadata: dict[str, Any] = {"createdAt": _ms(session.created_at)}
    if session.absolute_expires_at is not None:
        metadata["absoluteExpiresAt"] = _ms(session.absolute_expires_at)
    return stringify(value), metadata


def decode(format: SessionFormat, doc: Any, metadata: Any) -> Stored | None:
    """The stored session, or None when the value is not one (a malformed session is absent)."""
    if not isinstance(doc, dict):
        return None
    if format == "edgekv":
        try:
            absolute = doc.get("absolute")
            return Stored(
                doc.get("data", {}),
                float(doc.get("created", 0.0)),
                float(doc.get("expires", 0.0)),
                None if absolute is None else float(absolute),
            )
        except (TypeError, ValueError):
            return None
    meta = metadata if isinstance(metadata, dict) else {}
    expires = _seconds(doc.get("expiresAt"))
    if expires is None:
        return None
    data = {k: v for k, v in doc.items() if k != "expiresAt"}
    created = _seconds(meta.get("createdAt"))
    if created is None:  # seed 002 keeps createdAt in the value
        created = _seconds(doc.get("createdAt")) or 0.0
    return Stored(data, created, expires, _seconds(meta.get("absoluteExpiresAt")))


def expired(format: SessionFormat, session: Stored, now: float) -> bool:
    # getSession: `data.expiresAt < Date.now()` (equal is still valid), in whole milliseconds.
    if format == "worker":
        return _ms(session.expires_at) < _ms(now)
    return session.expires_at <= now


def _ms(seconds: float) -> int:
    return math.floor(seconds * 1000)


def _seconds(value: Any) -> float | None:
    """Milliseconds since the epoch (seed 003), or an ISO-8601 time (seed 002), as seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value / 1000
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None
