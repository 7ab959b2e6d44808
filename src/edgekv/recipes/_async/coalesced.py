"""Coalesced keys: one JSON object per entity, each field updated safely (seed 003).

Seed 003 recommends `user:123:profile` = `{"name", "email", "role"}` over one key per field,
and names the trade-off: updating one field. `set_field` reads the object and its version
(strongly), changes the field, and writes it back only if the version is still the one read;
when another writer came first it reads again (a compare-and-set loop, with a short randomised
pause so competing writers spread out). The new value's size is checked against the 25 MiB
limit before it is written, and the key's metadata and expiration are kept.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from edgekv import errors, limits
from edgekv.api._async.kv import AsyncNamespace
from edgekv.recipes.worker_json import stringify

Change = Callable[[dict[str, Any]], dict[str, Any] | None]
_MISSING = object()


class AsyncCoalesced:
    """JSON objects in a namespace, read whole and changed field by field."""

    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        retries: int = 16,
        backoff: float = 0.005,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.retries = max(1, retries)
        self.backoff = backoff
        self._clock = clock

    async def get(self, key: str) -> dict[str, Any] | None:
        value = await self.namespace.get(key, "json")
        return _object(key, value) if value is not None else None

    async def get_field(self, key: str, field: str, default: Any = None) -> Any:
        found = await self.get(key)
        return default if found is None else found.get(field, default)

    async def set_field(self, key: str, field: str, value: Any) -> dict[str, Any]:
        """Sets one field (creating the object if there is none); returns the object written."""
        return await self.update(key, lambda doc: {**doc, field: value})

    async def set_fields(self, key: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return await self.update(key, lambda doc: {**doc, **fields})

    async def delete_field(self, key: str, field: str) -> dict[str, Any] | None:
        """Removes one field; None (and nothing written) when the object does not exist."""
        if await self.get(key) is None:
            return None
        return await self.update(key, lambda doc: {k: v for k, v in doc.items() if k != field})

    async def update(self, key: str, change: Change) -> dict[str, Any]:
        """Applies `change(object) -> object` atomically with respect to other writers.

        `change` gets a copy of the stored object (`{}` when there is none) and may run more
        than once; returning None keeps the object as it is.
        """
        for attempt in range(self.retries):
            found = await self.namespace.get_with_metadata(key, "json", consistency="strong")
            current = {} if found.value is None else _object(key, found.value)
            changed = change(copy.deepcopy(current))
            if changed is None:
                return current
            text = stringify(_object(key, changed))
            limits.check_value_size(len(text.encode("utf-8", "surrogatepass")))
            try:
                await self.namespace.put(
                    key,
                    text,
                    metadata=found.metadata,
                    expiration=self._kept_expiration(found.expiration),
                    only_if_absent=found.value is None,
                    if_version=None if found.value is None else found.version,
                )
            except errors.PreconditionFailed:
                if self.backoff:
                    await asyncio.sleep(random.uniform(0, self.backoff * 2 ** min(attempt, 6)))
                continue
            return changed
        raise errors.PreconditionFailed(f"{key!r} changed too often to update it")

    def _kept_expiration(self, expiration: int | None) -> int | None:
        """The key's expiration, or a minute from now when it is closer (the least a write
        may give)."""
        if expiration is None:
            return None
        return max(expiration, int(self._clock()) + limits.MIN_EXPIRATION_TTL)


def _object(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.BadRequest(f"The value of {key!r} is not a JSON object.")
    return value
