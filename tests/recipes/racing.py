"""A store through which another writer's write lands just before the next conditional write:
the race a compare-and-set loop must survive, made to happen every time."""

from __future__ import annotations

from edgekv import AsyncNamespace, AsyncStore
from edgekv.api._async.prefixed import AsyncPrefixedStore
from edgekv.model import EntryWrite


class WriteFirst(AsyncPrefixedStore):
    """`inner` (prefix ""), except that the next `put` first writes `key` = `value` as
    another writer would, between the caller's read and its write."""

    def __init__(self, inner: AsyncStore, key: str, value: bytes) -> None:
        super().__init__(inner, "")
        self.pending: list[tuple[str, bytes]] = [(key, value)]

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        while self.pending:
            key, value = self.pending.pop()
            await self.inner.put(namespace_id, EntryWrite(key, value, None, None, len(value)))
        return await super().put(
            namespace_id, write, only_if_absent=only_if_absent, if_version=if_version
        )


def racing(ns: AsyncNamespace, key: str, value: str) -> tuple[AsyncNamespace, WriteFirst]:
    """`ns` as seen by a writer who loses one race: another writer puts `key` = `value` first."""
    store = WriteFirst(ns.store, key, value.encode())
    return AsyncNamespace(store, ns.info), store
