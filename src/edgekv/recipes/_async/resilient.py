"""Resilient reads: a default when the store fails, as seed 003's `resilientGet` does.

`await AsyncResilient(ns).get("config:app", {"theme": "light"})` answers the stored JSON value, or
the fallback when the key is missing, its value is not JSON, the store fails, or (async) the
read takes longer than `within` seconds. Failures are logged on `edgekv.recipes` (WARNING),
not raised: the caller gets an answer within a bounded time. A bad key is the calling code's
bug and is raised, as the cache toolkit does.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, TypeVar

from edgekv import errors
from edgekv.api._async.kv import AsyncNamespace
from edgekv.concurrency import AsyncTimeLimit

T = TypeVar("T")
log = logging.getLogger("edgekv.recipes")


class AsyncResilient:
    """Reads of a namespace that answer a fallback instead of failing."""

    def __init__(self, namespace: AsyncNamespace, *, within: float | None = 1.0) -> None:
        """`within` bounds each async read in seconds (a sync read is bounded by the store's
        own timeouts: the HTTP store's `timeout`, SQLite's busy timeout)."""
        self.namespace = namespace
        self.within = within

    async def get(
        self, key: str, fallback: T, *, type: Literal["json", "text"] = "json"
    ) -> T | Any:
        """The value of `key` (`type` "json" or "text"), else `fallback`."""
        try:
            value = await AsyncTimeLimit.of(self.within, self.namespace.get(key, type))
        except errors.CALLER_ERRORS:
            raise
        except Exception as e:  # the store failed, timed out, or the value is not JSON
            log.warning("KV error for %r, answering the fallback: %r", key, e)
            return fallback
        return fallback if value is None else value
