"""Group commit: writes queued together share a transaction, a repeated key waits for the
next one, a conditional write is committed alone in its place, and each write gets its own
version, in arrival order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.server.writes import Writes
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore


def _write(key: str, value: bytes) -> EntryWrite:
    return EntryWrite(key, value, None, None, len(value))


async def test_a_repeated_key_goes_in_the_next_transaction_in_arrival_order(
    tmp_path: Path,
) -> None:
    store = AsyncSQLiteStore(tmp_path / "kv.db")
    try:
        ns = await store.create_namespace("batch", "a" * 32)
        batcher = Writes(store, group_commit=True)
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
        batcher = Writes(store, group_commit=True)
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


async def test_a_conditional_write_is_committed_alone_in_its_place(tmp_path: Path) -> None:
    store = AsyncSQLiteStore(tmp_path / "kv.db")
    try:
        ns = await store.create_namespace("batch", "a" * 32)
        first = await store.put(ns.id, _write("k", b"0"))
        writes = Writes(store, group_commit=True)
        results = await asyncio.gather(
            writes.put(ns.id, _write("k", b"1")),
            # Holds against what the write before it left: fails, and fails alone.
            writes.put(ns.id, _write("k", b"2"), if_version=first),
            writes.put(ns.id, _write("other", b"3")),
            writes.put(ns.id, _write("new", b"4"), only_if_absent=True),
            writes.put(ns.id, _write("k", b"5")),
            return_exceptions=True,
        )
        assert isinstance(results[1], errors.PreconditionFailed)
        assert all(isinstance(results[i], int) for i in (0, 2, 3, 4))
        versions = [r for r in results if isinstance(r, int)]
        assert len(set(versions)) == 4
        # [k, other], [k if_version] alone, [new only_if_absent] alone, [k]
        assert writes.transactions == 4
        entry = await store.get(ns.id, "k")
        assert entry is not None and entry.value == b"5" and entry.version == results[4]
        assert (await store.get(ns.id, "new")) is not None
    finally:
        await store.aclose()
