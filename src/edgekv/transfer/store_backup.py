"""Backup and restore of a whole store: accounts, tokens, namespaces (ids and titles), keys.

Accounts and tokens are records of the system namespace (server/accounts.py; tokens stay
SHA-256 hashes), so a backup is every namespace of every account, with its id, title and
account, and every live key. The file is JSON Lines:

    {"edgekv_backup": 1, "created": ..., "snapshot": "sqlite-backup" | "change-feed"}
    {"namespace": {"id": ..., "title": ..., "account_id": ...}}
    {"ns": <id>, "key": ..., "value": ..., "metadata": ..., "expiration": ...}   (as exported)
    {"ns": <id>, "key": ..., "deleted": true}    {"drop": <id>}    (changes during the backup)
    {"end": {"namespaces": N, "keys": K, "position": ..., "consistent": true}}

A consistent snapshot, writers not stopped:

- SQLite: the store's own snapshot, SQLite's online backup API, which copies the database in
  one read transaction (WAL mode lets writers go on meanwhile); the copy is then read at rest.
  Exact, and as cheap as copying the file.
- PostgreSQL, Redis: no snapshot the Store protocol can reach, so the change feed. The feed's
  position is taken first, everything is copied, then the changes made since are read and each
  changed key is read again (deleted keys recorded as deleted), page after page, until a read of
  the feed finds nothing new: then every key in the file is as it was at that position. Under a
  write load that never pauses for `settle` seconds, the backup ends there and says
  `"consistent": false` (each key is at least as new as the position).

A restore applies the lines in order; it recreates namespaces with their ids and titles in their
accounts, and writes into an existing namespace only when it is the same one (same id, title,
account) or the system namespace, so running it again after an interruption finishes the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from edgekv import errors, limits
from edgekv.model import EntryWrite, NamespaceInfo
from edgekv.server.accounts import SYSTEM_ACCOUNT, SYSTEM_NAMESPACE
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore
from edgekv.transfer.copy import all_namespaces
from edgekv.transfer.entries import Entry, entries
from edgekv.transfer.lines import entry_line

FORMAT = 1
_FEED_PAGE = 1000


@dataclass(slots=True)
class BackupSummary:
    namespaces: int = 0
    keys: int = 0
    snapshot: str = ""
    consistent: bool = True
    position: str = ""


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _namespace_line(ns: NamespaceInfo) -> bytes:
    return _line({"namespace": {"id": ns.id, "title": ns.title, "account_id": ns.account_id}})


async def backup(
    store: AsyncStore,
    out: IO[bytes],
    *,
    settle: float = 30.0,
    clock: Callable[[], float] = time.time,
    on_keys: Callable[[int], None] | None = None,
) -> BackupSummary:
    """Writes a backup of every account, token, namespace and key of `store` to `out`."""
    _refuse_a_server(store, "A backup reads a store, not a server")
    if isinstance(store, AsyncSQLiteStore) and store.path is not None:
        with tempfile.TemporaryDirectory(prefix="edgekv-backup-") as folder:
            copy = Path(folder) / "snapshot.db"
            await asyncio.to_thread(_sqlite_snapshot, Path(store.path), copy)
            snapshot = AsyncSQLiteStore(copy, clock=clock)
            try:
                return await _dump(snapshot, out, "sqlite-backup", None, clock, on_keys)
            finally:
                await snapshot.aclose()
    return await _dump(store, out, "change-feed", settle, clock, on_keys)


def _refuse_a_server(store: AsyncStore, what: str) -> None:
    from edgekv.stores.http._async.http_store import AsyncRestStore

    if isinstance(store, AsyncRestStore):
        raise errors.BadRequest(
            f"{what} (its tokens and other accounts are not served): run it where the store "
            "is, with --store URL or --data-dir DIR."
        )


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """SQLite's online backup: every page in one step, so one read transaction, one instant."""
    src = sqlite3.connect(source, timeout=30.0)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


async def _dump(
    store: AsyncStore,
    out: IO[bytes],
    snapshot: str,
    settle: float | None,
    clock: Callable[[], float],
    on_keys: Callable[[int], None] | None,
) -> BackupSummary:
    summary = BackupSummary(snapshot=snapshot)
    summary.position = await store.feed_position()  # before anything is read
    out.write(_line({"edgekv_backup": FORMAT, "created": int(clock()), "snapshot": snapshot}))
    namespaces = await all_namespaces(store, None)
    for ns in namespaces:
        out.write(_namespace_line(ns))
    summary.namespaces = len(namespaces)
    for ns in namespaces:
        async for batch in entries(store, ns.id):
            for entry in batch:
                out.write(entry_line(entry, {"ns": ns.id}))
            summary.keys += len(batch)
            if on_keys is not None:
                on_keys(len(batch))
    if settle is not None:
        known = {ns.id for ns in namespaces}
        summary.consistent = await _follow(store, out, summary, known, settle)
    end = {
        "namespaces": summary.namespaces,
        "keys": summary.keys,
        "position": summary.position,
        "consistent": summary.consistent,
    }
    out.write(_line({"end": end}))
    out.flush()
    return summary


async def _follow(
    store: AsyncStore, out: IO[bytes], summary: BackupSummary, known: set[str], settle: float
) -> bool:
    """Reads the changes since the position, writing each changed key again, until a read of
    the feed finds none (True) or `settle` seconds have passed (False)."""
    deadline = time.monotonic() + settle
    while True:
        page = await store.changes(summary.position, _FEED_PAGE)
        if page.behind:
            raise errors.StoreUnavailable(
                "The change feed dropped changes made during the backup (it keeps them for "
                "less time than the backup took): run it again."
            )
        if not page.changes:
            return True
        if time.monotonic() > deadline:
            return False
        keys: dict[str, set[str]] = {}
        for change in page.changes:
            if change.key is None:
                await _namespace_changed(store, out, summary, known, change.namespace_id)
            else:
                keys.setdefault(change.namespace_id, set()).add(change.key)
        for namespace_id, changed in keys.items():
            if namespace_id not in known:
                await _namespace_changed(store, out, summary, known, namespace_id)
                if namespace_id not in known:
                    continue  # created and deleted during the backup
            await _keys_changed(store, out, summary, known, namespace_id, sorted(changed))
        summary.position = page.position


async def _namespace_changed(
    store: AsyncStore, out: IO[bytes], summary: BackupSummary, known: set[str], namespace_id: str
) -> None:
    try:
        info = await store.get_namespace(namespace_id)
    except errors.NamespaceNotFound:
        if namespace_id in known:
            known.discard(namespace_id)
            out.write(_line({"drop": namespace_id}))
        return
    if namespace_id not in known:
        summary.namespaces += 1
    known.add(namespace_id)
    out.write(_namespace_line(info))  # new, or renamed: a restore applies the title


async def _keys_changed(
    store: AsyncStore,
    out: IO[bytes],
    summary: BackupSummary,
    known: set[str],
    namespace_id: str,
    keys: list[str],
) -> None:
    for start in range(0, len(keys), 100):
        chunk = keys[start : start + 100]
        try:
            found = await store.get_many(namespace_id, chunk, cache_ttl=0)
        except errors.NamespaceNotFound:
            await _namespace_changed(store, out, summary, known, namespace_id)
            return
        for key, entry in zip(chunk, found, strict=True):
            if entry is None:
                out.write(_line({"ns": namespace_id, "key": key, "deleted": True}))
            else:
                head = {"ns": namespace_id}
                out.write(
                    entry_line(Entry(key, entry.value, entry.metadata_json, entry.expiration), head)
                )
                summary.keys += 1


# restore


@dataclass(frozen=True, slots=True)
class NamespaceRecord:
    info: NamespaceInfo


@dataclass(frozen=True, slots=True)
class PutRecord:
    namespace_id: str
    write: EntryWrite


@dataclass(frozen=True, slots=True)
class DeleteRecord:
    namespace_id: str
    key: str


@dataclass(frozen=True, slots=True)
class DropRecord:
    namespace_id: str


Record = NamespaceRecord | PutRecord | DeleteRecord | DropRecord


@dataclass(slots=True)
class RestoreSummary:
    namespaces: int = 0
    created: int = 0
    keys: int = 0
    deleted: int = 0


def _is_system(info: NamespaceInfo) -> bool:
    return info.account_id == SYSTEM_ACCOUNT and info.title == SYSTEM_NAMESPACE


async def plan_restore(store: AsyncStore, namespaces: Iterable[NamespaceInfo]) -> dict[str, str]:
    """The target namespace id of every backed-up namespace that exists already; refuses a
    namespace whose id or title another namespace of the store has (nothing written)."""
    _refuse_a_server(store, "A restore writes a store, not a server")
    existing: dict[str, str] = {}
    conflicts: list[str] = []
    for ns in namespaces:
        try:
            found = await store.get_namespace(ns.id)
        except errors.NamespaceNotFound:
            found = None
        if found is not None:
            if (found.title, found.account_id) == (ns.title, ns.account_id):
                existing[ns.id] = found.id
            else:
                conflicts.append(
                    f'{ns.id} ("{ns.title}") is "{found.title}" of account {found.account_id}'
                )
            continue
        with contextlib.suppress(errors.NamespaceNotFound):
            found = await store.find_namespace(ns.account_id, ns.title)
        if found is None:
            continue
        if _is_system(ns):
            existing[ns.id] = found.id  # accounts and tokens join the store's own
        else:
            conflicts.append(f'"{ns.title}" of account {ns.account_id} has the id {found.id}')
    if conflicts:
        raise errors.BadRequest(
            "The store has namespaces the backup would overwrite; restore into an empty store:\n  "
            + "\n  ".join(conflicts)
        )
    return existing


async def apply_restore(
    store: AsyncStore,
    records: AsyncIterable[Record] | Iterable[Record],
    existing: dict[str, str],
    *,
    on_keys: Callable[[int], None] | None = None,
) -> RestoreSummary:
    """Applies the records in order, writing keys in atomic batches per namespace."""
    summary = RestoreSummary()
    target = dict(existing)
    restored: set[str] = set()
    pending: list[EntryWrite] = []
    pending_ns = ""

    async def flush() -> None:
        nonlocal pending
        if pending:
            await store.put_many(target[pending_ns], pending)
            summary.keys += len(pending)
            if on_keys is not None:
                on_keys(len(pending))
            pending = []

    async for record in _each(records):
        if isinstance(record, PutRecord):
            if record.namespace_id != pending_ns or len(pending) >= limits.MAX_BULK_WRITE_PAIRS:
                await flush()
                pending_ns = record.namespace_id
            pending.append(record.write)
            continue
        await flush()
        if isinstance(record, NamespaceRecord):
            await _restore_namespace(store, record.info, target, summary)
            restored.add(record.info.id)
            summary.namespaces = len(restored)
        elif isinstance(record, DeleteRecord):
            await store.delete_many(target[record.namespace_id], [record.key])
            summary.deleted += 1
        else:
            with contextlib.suppress(errors.NamespaceNotFound):
                await store.delete_namespace(target.pop(record.namespace_id))
    await flush()
    return summary


async def _restore_namespace(
    store: AsyncStore, info: NamespaceInfo, target: dict[str, str], summary: RestoreSummary
) -> None:
    known = target.get(info.id)
    if known is None:
        created = await store.create_namespace(info.title, info.account_id, info.id)
        target[info.id] = created.id
        summary.created += 1
        return
    current = await store.get_namespace(known)
    if current.title != info.title:  # renamed during the backup
        await store.rename_namespace(known, info.title)


async def _each(records: AsyncIterable[Record] | Iterable[Record]) -> AsyncIterator[Record]:
    if isinstance(records, AsyncIterable):
        async for record in records:
            yield record
    else:
        for record in records:
            yield record
