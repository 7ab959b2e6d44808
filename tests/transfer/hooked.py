"""A store that lets a test act at a chosen call: another writer's writes at an exact point of
a backup or a copy, every time, instead of hoping a thread lands there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from edgekv import AsyncStore
from edgekv.api._async.prefixed import AsyncPrefixedStore
from edgekv.model import FeedPage, StoredEntry

Hook = Callable[[int], Awaitable[None]]


class Hooked(AsyncPrefixedStore):
    """`inner` as it is (prefix ""); `hooks["get_many"](n)` runs before the n-th get_many
    (from 1), `hooks["changes"](n)` before the n-th read of the feed."""

    def __init__(self, inner: AsyncStore, **hooks: Hook) -> None:
        super().__init__(inner, "")
        self.hooks = hooks
        self.calls: dict[str, int] = {}

    async def _hook(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        hook = self.hooks.get(name)
        if hook is not None:
            await hook(self.calls[name])

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        await self._hook("get_many")
        return await super().get_many(namespace_id, keys, cache_ttl=cache_ttl)

    async def changes(self, position: str | None, limit: int = 1000, **options: Any) -> FeedPage:
        await self._hook("changes")
        return await super().changes(position, limit, **options)
