"""Copying namespaces between any two stores or servers, and following the source after.

`match_namespaces` pairs each source namespace with the target's of the same id, else of the
same title, else a new one created with the source's title and, where the target honours it,
its id (so a wrangler.toml naming Cloudflare's ids works against edgekv unchanged).
`copy_namespace` writes every entry (value, metadata, expiration) in atomic batches. `watch`
then follows the source's change feed from a position taken before the copy started, so what
changed during the copy and after is copied too, deletions included, until it is stopped.
`verify_namespace` walks both sides in key order and counts what differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from edgekv import errors, limits
from edgekv.model import NamespaceInfo
from edgekv.stores._async.protocol import AsyncStore
from edgekv.transfer.entries import Entry, entries
from edgekv.transfer.writer import Writer

log = logging.getLogger("edgekv.transfer")
_NAMESPACE_PAGE = 100


@dataclass(frozen=True, slots=True)
class NamespacePair:
    source: NamespaceInfo
    target: NamespaceInfo
    created: bool = False


@dataclass(slots=True)
class CopySummary:
    """What a copy (or a watch) did: keys written and deleted, and left out (expired, or
    expiring within the minute where the target's API refuses that)."""

    written: int = 0
    deleted: int = 0
    left_out: int = 0
    resynced: int = 0

    def add(self, other: CopySummary) -> None:
        self.written += other.written
        self.deleted += other.deleted
        self.left_out += other.left_out
        self.resynced += other.resynced


async def has_change_feed(store: AsyncStore) -> bool:
    """Whether the store serves a change feed: every store in process does, and an edgekv
    server; Cloudflare's API has none."""
    await store.feed_position()  # an HTTP store learns here whether the server has one
    return store.capabilities.change_feed


async def all_namespaces(store: AsyncStore, account_id: str | None) -> list[NamespaceInfo]:
    found: list[NamespaceInfo] = []
    while True:
        page = await store.list_namespaces(account_id, offset=len(found), limit=_NAMESPACE_PAGE)
        found += page.namespaces
        if len(page.namespaces) < _NAMESPACE_PAGE:
            return found


async def match_namespaces(
    source: AsyncStore,
    target: AsyncStore,
    *,
    source_account: str,
    target_account: str,
    only: Sequence[str] = (),
    create: bool = True,
) -> list[NamespacePair]:
    """A target namespace for every source namespace (those `only` names, by id or title);
    without `create`, a source namespace the target lacks is NamespaceNotFound."""
    chosen = await all_namespaces(source, source_account)
    if only:
        wanted = set(only)
        chosen = [ns for ns in chosen if ns.id in wanted or ns.title in wanted]
        missing = wanted - {ns.id for ns in chosen} - {ns.title for ns in chosen}
        if missing:
            raise errors.NamespaceNotFound(
                f"No namespace {', '.join(sorted(missing))} in the source."
            )
    pairs = []
    for ns in chosen:
        pairs.append(await _target_of(target, target_account, ns, create))
    return pairs


async def _target_of(
    target: AsyncStore, account: str, ns: NamespaceInfo, create: bool
) -> NamespacePair:
    with contextlib.suppress(errors.NamespaceNotFound):
        return NamespacePair(ns, await target.get_namespace(ns.id))
    with contextlib.suppress(errors.NamespaceNotFound):
        return NamespacePair(ns, await target.find_namespace(account, ns.title))
    if not create:
        raise errors.NamespaceNotFound(
            f'The target has no namespace "{ns.title}" (neither its id {ns.id} nor its title).'
        )
    try:
        created = await target.create_namespace(ns.title, account, ns.id)
    except (errors.NamespaceIdTaken, errors.BadRequest) as e:
        # The id was another namespace's, or the target chooses ids itself (Cloudflare).
        log.info("namespace %s gets a new id in the target: %s", ns.title, e)
        created = await target.create_namespace(ns.title, account)
    return NamespacePair(ns, created, created=True)


async def copy_namespace(
    source: AsyncStore,
    target: AsyncStore,
    pair: NamespacePair,
    *,
    prefix: str = "",
    batch_pairs: int = limits.MAX_BULK_WRITE_PAIRS,
    on_batch: Callable[[int], None] | None = None,
) -> CopySummary:
    """Writes every entry of the source namespace under `prefix` into the target's."""
    writer = Writer(target, pair.target.id, batch_pairs=batch_pairs)
    try:
        async for batch in entries(source, pair.source.id, prefix):
            for entry in batch:
                await writer.add(entry)
            if on_batch is not None:
                on_batch(len(batch))
        await writer.finish()
    except BaseException:
        await writer.abandon()
        raise
    return CopySummary(writer.written, 0, writer.left_out)


async def watch(
    source: AsyncStore,
    target: AsyncStore,
    pairs: Sequence[NamespacePair],
    position: str,
    *,
    prefix: str = "",
    stop: asyncio.Event,
    wait: float = 1.0,
    on_change: Callable[[CopySummary], None] | None = None,
) -> CopySummary:
    """Copies every change after `position` until `stop` is set: a changed key is read from the
    source again and written (or deleted) in the target. If the feed dropped changes (the
    source kept them for less time than the watch was away), every namespace is copied again.
    """
    by_id = {p.source.id: p for p in pairs}
    total = CopySummary()
    while not stop.is_set():
        page = await source.changes(position)
        if page.behind:
            log.warning("the source's change feed dropped changes: copying everything again")
            for pair in pairs:
                again = await copy_namespace(source, target, pair, prefix=prefix)
                again.resynced = 1
                total.add(again)
                if on_change is not None:
                    on_change(again)
            position = page.position
            continue
        changed: dict[str, set[str]] = {}
        for change in page.changes:
            if change.namespace_id in by_id and change.key is not None:
                if change.key.startswith(prefix):
                    changed.setdefault(change.namespace_id, set()).add(change.key)
            elif change.namespace_id in by_id:
                log.warning(
                    "namespace %s was deleted or renamed in the source", change.namespace_id
                )
        for namespace_id, keys in changed.items():
            done = await _apply(source, target, by_id[namespace_id], sorted(keys))
            total.add(done)
            if on_change is not None:
                on_change(done)
        position = page.position
        if not page.changes:
            waited = asyncio.ensure_future(source.wait_for_changes(position, wait))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waited, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waited, stopped):
                task.cancel()
            await asyncio.gather(waited, stopped, return_exceptions=True)
    return total


async def _apply(
    source: AsyncStore, target: AsyncStore, pair: NamespacePair, keys: list[str]
) -> CopySummary:
    writer = Writer(target, pair.target.id)
    gone: list[str] = []
    for start in range(0, len(keys), 100):
        chunk = keys[start : start + 100]
        found = await source.get_many(pair.source.id, chunk, cache_ttl=0)
        for key, entry in zip(chunk, found, strict=True):
            if entry is None:
                gone.append(key)
            else:
                await writer.add(Entry(key, entry.value, entry.metadata_json, entry.expiration))
    await writer.finish()
    for start in range(0, len(gone), limits.MAX_BULK_WRITE_PAIRS):
        await target.delete_many(pair.target.id, gone[start : start + limits.MAX_BULK_WRITE_PAIRS])
    return CopySummary(writer.written, len(gone), writer.left_out)


@dataclass(slots=True)
class Difference:
    """How the target differs from the source: keys missing, extra, and different."""

    same: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"missing": 0, "extra": 0, "different": 0}
    )

    SHOWN = 10

    def note(self, kind: str, key: str) -> None:
        self.counts[kind] += 1
        shown: list[str] = getattr(self, kind)
        if len(shown) < self.SHOWN:
            shown.append(key)

    @property
    def clean(self) -> bool:
        return not any(self.counts.values())


async def verify_namespace(
    source: AsyncStore,
    target: AsyncStore,
    pair: NamespacePair,
    *,
    prefix: str = "",
    clock: Callable[[], float] = time.time,
) -> Difference:
    """Compares value bytes, metadata and expiration of every key under `prefix` on both sides,
    walking both in key order (constant memory). A key expiring within the minute is not
    compared: a copy to a server leaves those out."""
    diff = Difference()
    horizon = clock() + limits.MIN_EXPIRATION_TTL
    theirs = _one_by_one(entries(target, pair.target.id, prefix))
    other = await anext(theirs, None)
    async for batch in entries(source, pair.source.id, prefix):
        for mine in batch:
            while other is not None and _order(other.key) < _order(mine.key):
                diff.note("extra", other.key)
                other = await anext(theirs, None)
            soon = mine.expiration is not None and mine.expiration <= horizon
            if other is None or other.key != mine.key:
                if not soon:
                    diff.note("missing", mine.key)
                continue
            if soon or _same(mine, other):
                diff.same += 1
            else:
                diff.note("different", mine.key)
            other = await anext(theirs, None)
    while other is not None:
        diff.note("extra", other.key)
        other = await anext(theirs, None)
    return diff


async def _one_by_one(batches: AsyncIterator[list[Entry]]) -> AsyncIterator[Entry]:
    async for batch in batches:
        for entry in batch:
            yield entry


def _order(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")  # list order: UTF-8 bytes


def _same(a: Entry, b: Entry) -> bool:
    meta_a = None if a.metadata_json is None else json.loads(a.metadata_json)
    meta_b = None if b.metadata_json is None else json.loads(b.metadata_json)
    return a.value == b.value and meta_a == meta_b and a.expiration == b.expiration
