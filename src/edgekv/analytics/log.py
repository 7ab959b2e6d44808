"""The usage log in the central store: what every server counted, kept 31 days.

Each server writes its own records into a reserved namespace (`edgekv-usage` of the system
account), one per hour it counted in:

- `ops:<hour>:<server>`: that server's running totals for the hour, `[[account, namespace,
  action, requests, bytes, hits], ...]`
- `storage:<hour>:<server>`: the largest keys and bytes it sampled per namespace in the hour,
  `[[account, namespace, bytes, keys], ...]`

(`<hour>` is hours since the epoch, 10 digits, so keys sort by time; `<server>` a random id
per process.) A flush rewrites the records of the hours that changed with the server's running
totals, in one `put_many`, so a flush that fails or is repeated loses or doubles nothing: the
next one writes the same totals again. A reader merges every server's records (sums for
operations, maxima for storage), so any number of servers in front of one store count
correctly without a shared counter, on every store (none needs `incr`). Each record expires 31
days after its hour (Cloudflare keeps its analytics 31 days), and the store prunes it.

Stored bytes and keys come from the store's running totals (`Store.namespace_usage`, O(1)):
every namespace once an hour, and at each flush the namespaces written to since the last.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from edgekv import errors
from edgekv.analytics.counting import HOUR, Counts, Usage
from edgekv.api._async.kv import namespace_of
from edgekv.compact import compact_json
from edgekv.model import EntryWrite
from edgekv.stores._async.protocol import AsyncStore

log = logging.getLogger("edgekv.analytics")

SYSTEM_ACCOUNT = "edgekv-system"  # the reserved account of server/accounts.py
USAGE_NAMESPACE = "edgekv-usage"
RETENTION_DAYS = 31
RETENTION_HOURS = RETENTION_DAYS * 24
CLOSE_WAIT = 5.0  # seconds a shutdown waits for the flusher, and for the last flush
FLUSH_SECONDS = 2.0
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class OperationCount:
    """One hour of one action on one namespace, every server's counts added up."""

    account_id: str
    namespace_id: str
    hour: int  # hours since the epoch (UTC)
    action: str  # read, write, delete, list
    requests: int
    bytes: int
    hits: int  # reads answered from an edge's memory


@dataclass(frozen=True, slots=True)
class StorageSample:
    """The most a namespace held in one hour, of every server's samples."""

    account_id: str
    namespace_id: str
    hour: int
    bytes: int
    keys: int


def _key(kind: str, hour: int, server: str) -> str:
    return f"{kind}:{hour:010d}:{server}"


class UsageLog:
    """Writes one server's counts to the store, and reads every server's back."""

    def __init__(
        self,
        store: AsyncStore,
        usage: Usage | None = None,
        *,
        clock: Callable[[], float] = time.time,
        server_id: str | None = None,
    ) -> None:
        self.store = store
        self.usage = usage
        self.clock = clock
        self.server_id = server_id or secrets.token_hex(8)
        # This server's running totals by hour: (account, namespace, action) -> [req, bytes, hits]
        self._ops: dict[int, dict[tuple[str, str, str], list[int]]] = {}
        # The largest sample per hour: (account, namespace) -> (bytes, keys)
        self._storage: dict[int, dict[tuple[str, str], tuple[int, int]]] = {}
        # Everything this server counted since it started, for /metrics' counters (which
        # must only grow): (account, namespace, action) -> [requests, bytes, hits]
        self.counted: dict[tuple[str, str, str], list[int]] = {}
        self._dirty_ops: set[int] = set()
        self._dirty_storage: set[int] = set()
        self._sampled_hour = -1
        self._released: set[int] = set()  # hours written and let go
        self._names: dict[int, str] = {}  # hours reopened after that: their records' names
        self._namespace_id: str | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def namespace_id(self) -> str:
        if self._namespace_id is None:
            info = await namespace_of(self.store, SYSTEM_ACCOUNT, USAGE_NAMESPACE)
            self._namespace_id = info.id
        return self._namespace_id

    @property
    def pending(self) -> bool:
        """Whether counts or samples wait to be written (a flush failed since they were taken)."""
        return bool(self._dirty_ops or self._dirty_storage)

    # writing

    async def flush(self) -> None:
        """Writes what was counted since the last flush (and the storage samples due) in one
        batch; on failure everything stays to be written by the next flush."""
        async with self._lock:
            now_hour = int(self.clock() // HOUR)
            touched: set[tuple[str, str]] = set()
            if self.usage is not None:
                since, counts = self.usage.take()
                touched = self._merge(int(since // HOUR), counts)
            try:
                if now_hour != self._sampled_hour:
                    await self._sample(now_hour, await self._every_namespace())
                    self._sampled_hour = now_hour
                elif touched:
                    await self._sample(now_hour, touched)
            except Exception as e:  # the store away: sampled again at the next flush
                self._sampled_hour = -1
                log.warning("usage: storage not sampled: %s", e)
            writes = [
                self._write("ops", h, [[*k, *v] for k, v in self._ops[h].items()])
                for h in sorted(self._dirty_ops)
            ] + [
                self._write("storage", h, [[*k, *v] for k, v in self._storage[h].items()])
                for h in sorted(self._dirty_storage)
            ]
            if writes:
                try:
                    await self.store.put_many(await self.namespace_id(), writes)
                except Exception as e:
                    log.warning("usage flush failed (kept for the next one): %s", e)
                    return
            self._dirty_ops.clear()
            self._dirty_storage.clear()
            # Hours before the last are complete and written: kept no longer.
            for kept in (self._ops, self._storage):
                for h in [h for h in kept if h < now_hour - 1]:
                    del kept[h]
                    self._released.add(h)

    def _merge(self, hour: int, counts: Counts) -> set[tuple[str, str]]:
        touched: set[tuple[str, str]] = set()
        if not counts:
            return touched
        totals = self._ops.get(hour)
        if totals is None:
            totals = self._ops[hour] = {}
            if hour in self._released:
                # An hour written and let go (a clock that stepped back): a record of its own,
                # so the one written before is not overwritten with less (readers add both).
                self._names[hour] = f"{self.server_id}.{len(self._names) + 1}"
        for (account, namespace, action), (requests, size, hits) in counts.items():
            found = totals.get((account, namespace, action))
            if found is None:
                totals[(account, namespace, action)] = [requests, size, hits]
            else:
                found[0] += requests
                found[1] += size
                found[2] += hits
            since_start = self.counted.setdefault((account, namespace, action), [0, 0, 0])
            since_start[0] += requests
            since_start[1] += size
            since_start[2] += hits
            self._dirty_ops.add(hour)
            if action == "write" or action == "delete":
                touched.add((account, namespace))
        return touched

    async def _every_namespace(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        offset = 0
        while True:
            page = await self.store.list_namespaces(None, offset=offset, limit=_PAGE)
            found += [
                (n.account_id, n.id) for n in page.namespaces if n.account_id != SYSTEM_ACCOUNT
            ]
            offset += len(page.namespaces)
            if not page.namespaces or offset >= page.total_count:
                return found

    async def _sample(self, hour: int, namespaces: Iterable[tuple[str, str]]) -> None:
        samples = self._storage.setdefault(hour, {})
        for account, namespace in namespaces:
            try:
                usage = await self.store.namespace_usage(namespace)
            except errors.NamespaceNotFound:
                continue  # deleted since
            before = samples.get((account, namespace), (0, 0))
            samples[(account, namespace)] = (
                max(before[0], usage.bytes),
                max(before[1], usage.keys),
            )
            self._dirty_storage.add(hour)

    def _write(self, kind: str, hour: int, rows: list[list[Any]]) -> EntryWrite:
        data = compact_json(rows).encode()
        expiration = (hour + 1) * HOUR + RETENTION_DAYS * 86400
        server = self._names.get(hour, self.server_id) if kind == "ops" else self.server_id
        return EntryWrite(_key(kind, hour, server), data, None, expiration, len(data))

    # the flusher

    def start(self, seconds: float = FLUSH_SECONDS) -> None:
        """Flushes every `seconds` in the background until `aclose`."""

        async def run() -> None:
            while True:
                # A period ends at each hour's start too, so none spans two hours.
                now = self.clock()
                await asyncio.sleep(min(seconds, (now // HOUR + 1) * HOUR - now + 0.001))
                try:
                    await self.flush()
                except Exception as e:  # the store away: the next flush writes it all
                    log.warning("usage flush failed: %s", e)

        self._task = asyncio.get_running_loop().create_task(run())

    async def aclose(self) -> None:
        """Stops the flusher and flushes what is left (a server's shutdown), each within
        CLOSE_WAIT: a store that does not answer costs the counts since the last flush, never
        a shutdown that does not end."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=CLOSE_WAIT)
            self._task = None
        last = asyncio.ensure_future(self.flush())
        done, _ = await asyncio.wait({last}, timeout=CLOSE_WAIT)
        if not done:
            last.cancel()
            log.warning("last usage flush: no answer within %g s", CLOSE_WAIT)
        elif (e := last.exception()) is not None:
            log.warning("last usage flush failed: %s", e)

    # reading

    async def operations(self, first_hour: int, last_hour: int) -> list[OperationCount]:
        """Every server's counts from `first_hour` to `last_hour` (inclusive), added up."""
        merged: dict[tuple[str, str, int, str], list[int]] = {}
        async for hour, rows in self._records("ops", first_hour, last_hour):
            for account, namespace, action, requests, size, hits in rows:
                found = merged.setdefault((account, namespace, hour, action), [0, 0, 0])
                found[0] += requests
                found[1] += size
                found[2] += hits
        return [OperationCount(*k, *v) for k, v in sorted(merged.items())]

    async def storage(self, first_hour: int, last_hour: int) -> list[StorageSample]:
        """The largest bytes and keys of each namespace in each hour, of every server."""
        merged: dict[tuple[str, str, int], list[int]] = {}
        async for hour, rows in self._records("storage", first_hour, last_hour):
            for account, namespace, size, keys in rows:
                found = merged.setdefault((account, namespace, hour), [0, 0])
                found[0] = max(found[0], size)
                found[1] = max(found[1], keys)
        return [StorageSample(*k, *v) for k, v in sorted(merged.items())]

    async def _records(
        self, kind: str, first_hour: int, last_hour: int
    ) -> AsyncIterator[tuple[int, list[list[Any]]]]:
        first_hour = max(first_hour, int(self.clock() // HOUR) - RETENTION_HOURS)
        namespace = await self.namespace_id()
        after: str | None = f"{kind}:{first_hour - 1:010d};"  # ';' sorts after ':'
        end = f"{kind}:{last_hour:010d};"
        while after is not None:
            page = await self.store.list_keys(namespace, f"{kind}:", _PAGE, after, cache_ttl=0)
            names = [k.name for k in page.keys if k.name < end]
            entries = await self.store.get_many(namespace, names, cache_ttl=0) if names else []
            for name, entry in zip(names, entries, strict=True):
                if entry is not None:
                    yield int(name.split(":")[1]), json.loads(entry.value)
            done = page.complete or not page.keys or len(names) < len(page.keys)
            after = None if done else page.keys[-1].name
