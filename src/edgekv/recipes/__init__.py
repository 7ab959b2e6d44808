"""Recipes built on the toolkit and conditional writes: sessions, feature flags, webhook
idempotency, rate limits, and seed 003's patterns (versioned values migrated on read,
coalesced keys, resilient reads). Each has an async class and a sync one of the same logic.
Flags and sessions also speak the seeds' Worker formats (`format="worker"`)."""

from edgekv.recipes._async.coalesced import AsyncCoalesced
from edgekv.recipes._async.flags import AsyncFlags
from edgekv.recipes._async.idempotency import AsyncIdempotency, Claim, ClaimLost
from edgekv.recipes._async.ratelimit import AsyncRateLimiter, RateLimitResult
from edgekv.recipes._async.resilient import AsyncResilient
from edgekv.recipes._async.sessions import AsyncSessions, Session
from edgekv.recipes._async.versioned import AsyncVersioned
from edgekv.recipes._sync.coalesced import Coalesced
from edgekv.recipes._sync.flags import Flags
from edgekv.recipes._sync.idempotency import Idempotency
from edgekv.recipes._sync.ratelimit import RateLimiter
from edgekv.recipes._sync.resilient import Resilient
from edgekv.recipes._sync.sessions import Sessions
from edgekv.recipes._sync.versioned import Versioned
from edgekv.recipes.rollout import Flag, bucket
from edgekv.recipes.worker_flags import WorkerFlag, seed_bucket

__all__ = [
    "AsyncCoalesced",
    "AsyncFlags",
    "AsyncIdempotency",
    "AsyncRateLimiter",
    "AsyncResilient",
    "AsyncSessions",
    "AsyncVersioned",
    "Claim",
    "ClaimLost",
    "Coalesced",
    "Flag",
    "Flags",
    "Idempotency",
    "RateLimitResult",
    "RateLimiter",
    "Resilient",
    "Session",
    "Sessions",
    "Versioned",
    "WorkerFlag",
    "bucket",
    "seed_bucket",
]
