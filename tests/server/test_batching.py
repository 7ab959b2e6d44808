"""Group commit: writes queued together share a transaction, a repeated key waits for the
next one, and each write gets its own version, in arrival order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.server.batching import WriteBatcher
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore


def _write(key: str, value: bytes) -> EntryWrite:
    return EntryWrite(key, value, None, None, len(value))


async def test_a_repeated_key_goes_in_the_next_transaction_in_arrival_order(
    tmp_path: Path,
) -> None:
    store = AsyncSQLiteStore(tmp_path / "kv.db")
    try:
        ns = await store.create_namespace("batch", "a" * 32)
        batcher = WriteBatcher(store)
        writes = [_write("a", b"1"), _write("b", b"2"), _write("a", b"3"), _write("c", b"4")]
        versions = await asyncio.gather(*(batcher.put(ns.id, w) for w in writes))
        # [a, b, c] then [a]: two transactions, the second write of `a` after the first.
        assert batcher.transactions == 2
        assert versions[2] > versions[0]
        assert len(set(versions)) == 4
        entry = await store.get(ns.id, "a")
        assert entry is not None and entry.value == b"3" and entry.version == versions[2]
    finally:
        await store.aclose()


async def test_a_failed_transaction_fails_its_writes_and_no_others(tmp_path: Path) -> None:
    store = AsyncSQLiteStore(tmp_path / "kv.db")
    try:
        ns = await store.create_namespace("batch", "a" * 32)
        batcher = WriteBatcher(store)
        results = await asyncio.gather(
            batcher.put(ns.id, _write("k", b"v")),
            batcher.put("no-such-namespace", _write("k", b"v")),
            return_exceptions=True,
        )
        assert isinstance(results[0], int)
        assert isinstance(results[1], errors.NamespaceNotFound)
        assert (await batcher.put(ns.id, _write("later", b"v"))) > results[0]
    finally:
        await store.aclose()
