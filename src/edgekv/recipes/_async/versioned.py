"""Values whose format has a version, migrated when read: seed 003's metadata versioning.

Seed 003's `migrateIfNeeded` keeps the format's version in the key's metadata
(`{"version": 2, "migratedAt": <ms>}`; none means 1), migrates an older value on read and
writes it back. Here the migrations are registered one step at a time
(`@values.migration(1)` turns a version-1 value into version 2), applied in order up to the
newest, and written back with a write conditional on the version read, so two readers migrating
at once cannot overwrite a newer write: the loser reads again. The write-back keeps the key's
other metadata and its expiration, which the seed's write-back drops.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from edgekv import errors, limits
from edgekv.api._async.kv import AsyncNamespace
from edgekv.recipes.worker_json import stringify, to_number, truthy

Migration = Callable[[Any], Any]
F = TypeVar("F", bound=Migration)
_RETRIES = 8


class AsyncVersioned:
    """`get` migrates on read, `put` writes at the newest version; JSON values."""

    def __init__(
        self,
        namespace: AsyncNamespace,
        *,
        version: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`version`: the newest format (default: one past the last registered migration)."""
        self.namespace = namespace
        self.migrations: dict[int, Migration] = {}
        self._version = version
        self._clock = clock

    @property
    def version(self) -> int:
        if self._version is not None:
            return self._version
        return max(self.migrations, default=0) + 1

    def migration(self, from_version: int) -> Callable[[F], F]:
        """Registers `fn(value) -> value` taking a value from `from_version` to the next."""

        def register(fn: F) -> F:
            self.register(from_version, fn)
            return fn

        return register

    def register(self, from_version: int, fn: Migration) -> None:
        if isinstance(from_version, bool) or not isinstance(from_version, int):
            raise errors.BadRequest("A migration's from_version must be an integer.")
        if from_version < 1 or from_version in self.migrations:
            raise errors.BadRequest(f"A migration from version {from_version} is registered.")
        self.migrations[from_version] = fn

    async def get(self, key: str) -> Any:
        """The value at the newest version (migrated and written back if older); None if absent."""
        for _ in range(_RETRIES):
            # Strong: the version written back is compared with the central store's.
            found = await self.namespace.get_with_metadata(key, "json", consistency="strong")
            if found.value is None:
                return None
            current = _stored_version(found.metadata)
            if not current < self.version:
                return found.value
            migrated = self.migrate(found.value, int(current))
            metadata = dict(found.metadata) if isinstance(found.metadata, dict) else {}
            metadata.update(version=self.version, migratedAt=math.floor(self._clock() * 1000))
            if found.expiration is not None and (
                found.expiration < self._clock() + limits.MIN_EXPIRATION_TTL
            ):
                return migrated  # it expires within a minute: no legal write, nor a need
            try:
                await self.namespace.put(
                    key,
                    stringify(migrated),
                    expiration=found.expiration,
                    metadata=metadata,
                    if_version=found.version,
                )
            except errors.PreconditionFailed:
                continue  # written meanwhile (perhaps migrated by another reader): read again
            return migrated
        raise errors.PreconditionFailed(f"{key!r} changed too often to migrate it")

    def migrate(self, value: Any, from_version: int) -> Any:
        """`value` taken through every step from `from_version` to the newest."""
        for step in range(max(from_version, 1), self.version):
            fn = self.migrations.get(step)
            if fn is None:
                raise errors.BadRequest(f"No migration is registered from version {step}.")
            value = fn(value)
        return value

    async def put(
        self,
        key: str,
        value: Any,
        *,
        expiration: int | None = None,
        expiration_ttl: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Writes a value of the newest format (its version in the metadata)."""
        return await self.namespace.put(
            key,
            stringify(value),
            expiration=expiration,
            expiration_ttl=expiration_ttl,
            metadata={**(metadata or {}), "version": self.version},
        )


def _stored_version(metadata: Any) -> float:
    """`result.metadata?.version || 1`, as the Worker reads it (NaN never migrates)."""
    found = metadata.get("version") if isinstance(metadata, dict) else None
    return to_number(found) if truthy(found) else 1.0
