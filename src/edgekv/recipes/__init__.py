"""Recipes built on the toolkit and conditional writes: sessions, feature flags, webhook
idempotency, rate limits. Each has an async class and a sync one of the same logic."""

from edgekv.recipes._async.flags import AsyncFlags
from edgekv.recipes._async.idempotency import AsyncIdempotency, Claim, ClaimLost
from edgekv.recipes._async.ratelimit import AsyncRateLimiter, RateLimitResult
from edgekv.recipes._async.sessions import AsyncSessions, Session
from edgekv.recipes._sync.flags import Flags
from edgekv.recipes._sync.idempotency import Idempotency
from edgekv.recipes._sync.ratelimit import RateLimiter
from edgekv.recipes._sync.sessions import Sessions
from edgekv.recipes.rollout import Flag, bucket

__all__ = [
    "AsyncFlags",
    "AsyncIdempotency",
    "AsyncRateLimiter",
    "AsyncSessions",
    "Claim",
    "ClaimLost",
    "Flag",
    "Flags",
    "Idempotency",
    "RateLimitResult",
    "RateLimiter",
    "Session",
    "Sessions",
    "bucket",
]
