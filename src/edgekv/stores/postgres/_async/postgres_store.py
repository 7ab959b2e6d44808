"""The PostgreSQL central store: `postgresql://user@host:5432/db?schema=edgekv` (psycopg 3, pooled).

Every write is one transaction that commits before the call returns, and appends its change-feed
entry in that transaction; the SQL and the reasons behind it are in `edgekv.stores.postgres.schema`.
The tables are created on first use, in the URL's schema (default `edgekv`).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import psycopg.conninfo
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from edgekv import errors
from edgekv.concurrency import AsyncDeadline, AsyncLock
from edgekv.limits import prefix_upper_bound
from edgekv.model import (
    Change,
    EntryWrite,
    FeedPage,
    KeyInfo,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores import namespace_sql
from edgekv.stores._async.protocol import Direction, NamespaceOrder, chunks_of
from edgekv.stores.capabilities import Capabilities
from edgekv.stores.deadlines import DEADLINE_OPTIONS, Deadlines
from edgekv.stores.positions import int_position, parse_int_position
from edgekv.stores.postgres import schema as postgres_schema
from edgekv.stores.postgres._async.pool import AsyncFailFastPool
from edgekv.stores.postgres.faults import PostgresFaults

# Values at least this large are stored and read a chunk at a time (blob_chunks).
LARGE_VALUE = 1 << 20
CHUNK = 1 << 20
MIGRATION_TIMEOUT = 60.0  # seconds the first call may take to create or upgrade the schema
NOT_AN_INTEGER = "value is not an integer, or the sum exceeds 64 bits"

log = logging.getLogger("edgekv.postgres")

_LIVE_NAMESPACE = namespace_sql.LIVE
_NAMESPACE_COLUMNS = namespace_sql.COLUMNS


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without edgekv's own query options, and those options."""
    parts = urlsplit(url)
    ours, theirs = {}, []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in ("schema", "pool_min", "pool_max", *DEADLINE_OPTIONS):
            ours[name] = value
        else:
            theirs.append((name, value))
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(theirs), "")), ours


class AsyncPostgresStore:
    """A central store in PostgreSQL 15 or newer; see docs/stores.md for what it needs."""

    capabilities = Capabilities(
        group_commit=True,  # put_many: one transaction, each write's own version
        change_feed=True,
        ordered_feed=True,  # one sequence for every key (drawn under the feed's lock)
        exclude_own=False,
        conditional_writes=True,
        incr=True,
        versions=True,
    )

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        clock: Callable[[], float] = time.time,
        min_size: int | None = None,
        max_size: int | None = None,
        feed_retention: float = 24 * 3600,
        purge_interval: float = 1.0,
        timeout: float | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        self._faults = PostgresFaults(log)
        self.feed_reads = 0  # feed pages and looks at its end, made here (docs/scaling.md)
        conninfo, options = split_url(url)
        # `timeout` bounds each call, waiting for a pooled connection included: the call is
        # cancelled at its deadline (psycopg then closes a connection it cannot cancel on);
        # `connect_timeout` goes to libpq, in whole seconds, 2 at least (libpq's minimum).
        self.deadlines = Deadlines.of(options, timeout=timeout, connect_timeout=connect_timeout)
        self._timeout = self.deadlines.timeout
        conninfo = psycopg.conninfo.make_conninfo(
            conninfo, connect_timeout=max(2, math.ceil(self.deadlines.connect_timeout))
        )
        self.schema = schema or options.get("schema") or "edgekv"
        self._sql = postgres_schema.Statements(self.schema)
        self._clock = clock
        self._feed_retention = feed_retention
        self._purge_interval = purge_interval
        self._next_purge = 0.0
        self._nsids: dict[str, int] = {}
        self._ready = False
        self._opening = AsyncLock()
        self._pool = AsyncFailFastPool(
            conninfo,
            min_size=min_size or int(options.get("pool_min", 1)),
            max_size=max_size or int(options.get("pool_max", 10)),
            kwargs={"autocommit": True},
            timeout=self._timeout,
            open=False,
        )

    # connections

    async def _open(self) -> AsyncConnectionPool:
        if not self._ready:
            # The first calls may come together: one opens the pool, the others wait for it.
            async with self._opening:
                if not self._ready:
                    # The schema's creation (DDL, once) may take longer than a call: its own
                    # bound; waiting for a connection is bounded by the pool's timeout.
                    async with AsyncDeadline(max(self._timeout, MIGRATION_TIMEOUT)):
                        await self._open_pool()
                    self._ready = True
        return self._pool

    async def _open_pool(self) -> None:
        # Not open(wait=True): that waits the pool's whole timeout while the server refuses,
        # and a pool that could not connect in time closes itself for good (the store would
        # not recover once the server answers again). The first connection is waited for as
        # every other is, within the store's deadline.
        await self._pool.open(wait=False)
        async with self._pool.connection() as conn:
            if await self._schema_version(conn) < postgres_schema.SCHEMA_VERSION:
                async with conn.transaction():
                    # One migration at a time: CREATE ... IF NOT EXISTS races on catalogs.
                    await conn.execute(self._sql.migrate_lock)
                    version = await self._schema_version(conn)  # again, under the lock
                    if version < postgres_schema.SCHEMA_VERSION:
                        await conn.execute(self._sql.ddl)
                        if version >= 1:  # an older schema with data: sizes and totals, once
                            await conn.execute(self._sql.backfill)

    async def _schema_version(self, conn: psycopg.AsyncConnection[Any]) -> int:
        # to_regclass, not a failed SELECT: an error would abort the migration's transaction.
        cur = await conn.execute(
            "SELECT to_regclass(%s)", (f"{postgres_schema.quote_ident(self.schema)}.meta",)
        )
        found = await cur.fetchone()
        if found is None or found[0] is None:
            return 0
        cur = await conn.execute(
            self._sql.format("SELECT value FROM {s}.meta WHERE name = 'schema_version'")
        )
        row = await cur.fetchone()
        return 0 if row is None else int(row[0])

    async def _one(self, query: str, params: Any = None, *, binary: bool = False) -> Any:
        pool = await self._open()
        async with AsyncDeadline(self._timeout), pool.connection() as conn:
            cur = await conn.execute(query, params, binary=binary)
            return await cur.fetchone()

    async def _all(self, query: str, params: Any = None, *, binary: bool = False) -> list[Any]:
        pool = await self._open()
        async with AsyncDeadline(self._timeout), pool.connection() as conn:
            cur = await conn.execute(query, params, binary=binary)
            return await cur.fetchall()

    async def _nsid(self, namespace_id: str) -> int:
        try:
            return self._nsids[namespace_id]
        except KeyError:
            pass
        row = await self._one(
            self._sql.format(
                f"SELECT nsid FROM {{s}}.namespaces WHERE id = %s AND {_LIVE_NAMESPACE}"
            ),
            (namespace_id,),
        )
        if row is None:
            raise errors.NamespaceNotFound()
        self._nsids[namespace_id] = row[0]
        return int(row[0])

    # namespaces

    async def _namespace_row(self, where: str, params: tuple[object, ...]) -> NamespaceInfo:
        row = await self._one(
            self._sql.format(
                f"SELECT {_NAMESPACE_COLUMNS} FROM {{s}}.namespaces WHERE {where}"
                f" AND {_LIVE_NAMESPACE}"
            ),
            params,
        )
        if row is None:
            raise errors.NamespaceNotFound()
        return NamespaceInfo(*row)

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        with self._faults:
            chosen = namespace_id or uuid.uuid4().hex
            try:
                await self._one(
                    self._sql.format(
                        "INSERT INTO {s}.namespaces (id, account_id, title, created_at)"
                        " VALUES (%s, %s, %s, %s) RETURNING nsid"
                    ),
                    (chosen, account_id, title, time.time()),
                )
            except pg_errors.UniqueViolation as e:
                if namespace_id is not None and e.diag.constraint_name == "namespaces_id_key":
                    row = await self._one(
                        self._sql.format(
                            "SELECT deleted_at IS NOT NULL FROM {s}.namespaces WHERE id = %s"
                        ),
                        (chosen,),
                    )
                    raise errors.NamespaceIdTaken.of(chosen, deleted=bool(row and row[0])) from e
                raise errors.DuplicateNamespaceTitle() from e
            return NamespaceInfo(chosen, title, account_id)

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        with self._faults:
            count, page, params = namespace_sql.page_queries(
                "{s}.namespaces", account_id, order, direction, "%s", collate=' COLLATE "C"'
            )
            total = (await self._one(self._sql.format(count), params))[0]
            rows = await self._all(self._sql.format(page), [*params, limit, offset])
            return NamespacePage([NamespaceInfo(*row) for row in rows], int(total))

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        with self._faults:
            return await self._namespace_row("id = %s", (namespace_id,))

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            return await self._namespace_row("account_id = %s AND title = %s", (account_id, title))

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            try:
                row = await self._one(
                    self._sql.format(
                        f"UPDATE {{s}}.namespaces SET title = %s WHERE id = %s AND {_LIVE_NAMESPACE}"
                        f" RETURNING {_NAMESPACE_COLUMNS}"
                    ),
                    (title, namespace_id),
                )
            except pg_errors.UniqueViolation as e:
                raise errors.DuplicateNamespaceTitle() from e
            if row is None:
                raise errors.NamespaceNotFound()
            return NamespaceInfo(*row)

    async def delete_namespace(self, namespace_id: str) -> None:
        with self._faults:
            nsid = await self._nsid(namespace_id)
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn, conn.transaction():
                # A tombstone stays so the feed can name the namespace; one feed entry with no key
                # says "all of it".
                await conn.execute(self._sql.write_lock)
                await conn.execute(
                    self._sql.format("UPDATE {s}.namespaces SET deleted_at = %s WHERE nsid = %s"),
                    (time.time(), nsid),
                )
                await conn.execute(
                    self._sql.format("DELETE FROM {s}.entries WHERE nsid = %s"), (nsid,)
                )
                await conn.execute(self._sql.feed_append, (nsid,))
            self._nsids.pop(namespace_id, None)

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        with self._faults:
            row = await self._one(self._sql.namespace_usage, (namespace_id,))
            if row is None:
                raise errors.NamespaceNotFound()
            return NamespaceUsage(int(row[0]), int(row[1]))

    # entries

    async def _value_of(
        self, conn: psycopg.AsyncConnection[Any], value: Any, blob_id: Any
    ) -> bytes:
        if value is not None:
            return bytes(value)
        cur = await conn.execute(self._sql.blob_whole, (blob_id,), binary=True)
        row = await cur.fetchone()
        return b"" if row is None or row[0] is None else bytes(row[0])

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        with self._faults:
            nsid = self._nsids.get(namespace_id) or await self._nsid(namespace_id)
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn:
                cur = await conn.execute(
                    self._sql.get, (nsid, key.encode(), self._clock()), binary=True
                )
                row = await cur.fetchone()
                if row is None:
                    return None
                value, metadata, expiration, version, blob_id, written_at = row
                return StoredEntry(
                    await self._value_of(conn, value, blob_id),
                    metadata,
                    expiration,
                    version,
                    None,
                    written_at,
                )

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        with self._faults:
            nsid = self._nsids.get(namespace_id) or await self._nsid(namespace_id)
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn:
                cur = await conn.execute(
                    self._sql.get_value, (nsid, key.encode(), self._clock()), binary=True
                )
                row = await cur.fetchone()
                return None if row is None else await self._value_of(conn, row[0], row[1])

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        with self._faults:
            if not keys:
                return []
            nsid = await self._nsid(namespace_id)
            found: dict[bytes, StoredEntry] = {}
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn:
                cur = await conn.execute(
                    self._sql.get_many,
                    (nsid, [k.encode() for k in keys], self._clock()),
                    binary=True,
                )
                for key, value, meta, exp, version, blob_id, written in await cur.fetchall():
                    found[bytes(key)] = StoredEntry(
                        await self._value_of(conn, value, blob_id),
                        meta,
                        exp,
                        version,
                        None,
                        written,
                    )
            return [found.get(k.encode()) for k in keys]

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = CHUNK
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        with self._faults:
            nsid = await self._nsid(namespace_id)
            pool = await self._open()
            async with AsyncDeadline(self._timeout):
                conn = await pool.getconn()
                try:
                    # A repeatable-read snapshot: the chunks of one version even if the key is
                    # overwritten while the caller reads, and the connection is the caller's
                    # until then.
                    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    cur = await conn.execute(
                        self._sql.get, (nsid, key.encode(), self._clock()), binary=True
                    )
                    row = await cur.fetchone()
                except BaseException:
                    await pool.putconn(conn)
                    raise
            if row is None or row[0] is not None:
                await conn.execute("COMMIT")
                await pool.putconn(conn)
                if row is None:
                    return None
            value, metadata, expiration, version, blob_id, written_at = row
            entry = StoredEntry(b"", metadata, expiration, version, None, written_at)
            if value is not None:
                return entry, chunks_of(bytes(value), chunk_size)
            return entry, self._blob_chunks(pool, conn, blob_id, chunk_size)

    async def _blob_chunks(
        self,
        pool: AsyncConnectionPool,
        conn: psycopg.AsyncConnection[Any],
        blob_id: int,
        chunk_size: int,
    ) -> AsyncIterator[bytes]:
        with self._faults:
            try:
                n = 0
                while True:
                    async with AsyncDeadline(self._timeout):  # each chunk, not across yields
                        cur = await conn.execute(self._sql.blob_chunk, (blob_id, n), binary=True)
                        row = await cur.fetchone()
                    if row is None:
                        break
                    data = memoryview(row[0])
                    for start in range(0, len(data), chunk_size):
                        yield bytes(data[start : start + chunk_size])
                    n += 1
                async with AsyncDeadline(self._timeout):
                    await conn.execute("COMMIT")
            finally:
                await pool.putconn(conn)

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        with self._faults:
            nsid = self._nsids.get(namespace_id) or await self._nsid(namespace_id)
            now = self._clock()
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn:
                if write.size < LARGE_VALUE and isinstance(write.value, bytes):
                    row = await self._put_row(
                        conn, nsid, write, write.value, None, only_if_absent, if_version, now
                    )
                else:
                    async with conn.transaction():
                        blob_id = await self._write_blob(conn, write)
                        row = await self._put_row(
                            conn, nsid, write, None, blob_id, only_if_absent, if_version, now
                        )
                        if row is None:
                            await conn.execute(
                                self._sql.format("DELETE FROM {s}.blob_chunks WHERE blob_id = %s"),
                                (blob_id,),
                            )
            if row is None:
                raise errors.PreconditionFailed(
                    "key already exists" if only_if_absent else "version does not match"
                )
            if now >= self._next_purge:
                await self._purge_some(now)
            return int(row[0])

    async def _put_row(
        self,
        conn: psycopg.AsyncConnection[Any],
        nsid: int,
        write: EntryWrite,
        value: bytes | None,
        blob_id: int | None,
        only_if_absent: bool,
        if_version: int | None,
        now: float,
    ) -> Any:
        key, meta, exp = write.key.encode(), write.metadata_json, write.expiration
        size, written = len(value) if value is not None else write.size, int(now)
        if if_version is not None:
            query = self._sql.update_if_version
            params: tuple[object, ...] = (
                *(value, blob_id, meta, exp, size, written),
                *(nsid, key, if_version, now),
            )
        elif only_if_absent:
            query = self._sql.upsert(True)
            params = (nsid, key, value, blob_id, meta, exp, size, written, now)
        else:
            query = self._sql.upsert(False)
            params = (nsid, key, value, blob_id, meta, exp, size, written)
        cur = await conn.execute(query, params)
        return await cur.fetchone()

    async def _write_blob(self, conn: psycopg.AsyncConnection[Any], write: EntryWrite) -> int:
        cur = await conn.execute(self._sql.new_blob)
        blob_id = int((await cur.fetchone())[0])  # type: ignore[index]
        n = 0
        if isinstance(write.value, bytes):
            view = memoryview(write.value)
            for start in range(0, len(view), CHUNK):
                await conn.execute(self._sql.put_chunk, (blob_id, n, view[start : start + CHUNK]))
                n += 1
        else:
            while chunk := write.value.read(CHUNK):
                await conn.execute(self._sql.put_chunk, (blob_id, n, chunk))
                n += 1
        return blob_id

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        with self._faults:
            if not writes:
                return []
            nsid = await self._nsid(namespace_id)
            # One row per key (the last write of a key wins, as if written in order): ON CONFLICT
            # cannot touch a row twice in one statement. The statement writes them in key order.
            last: dict[str, EntryWrite] = {w.key: w for w in writes}
            keys, values, metas, exps = [], [], [], []
            for key, w in last.items():
                keys.append(key.encode())
                values.append(w.value if isinstance(w.value, bytes) else w.value.read())
                metas.append(w.metadata_json)
                exps.append(w.expiration)
            written = int(self._clock())
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn:
                cur = await conn.execute(
                    self._sql.upsert_many, (nsid, written, keys, values, metas, exps)
                )
                by_key = {bytes(k).decode(): int(v) for k, v in await cur.fetchall()}
            now = self._clock()
            if now >= self._next_purge:
                await self._purge_some(now)
            return [by_key[w.key] for w in writes]

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        with self._faults:
            nsid = await self._nsid(namespace_id)
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn, conn.transaction():
                await conn.execute(self._sql.write_lock)
                await conn.execute(self._sql.delete_many, (nsid, [k.encode() for k in keys], nsid))

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        with self._faults:
            nsid = await self._nsid(namespace_id)
            inclusive = start_after is None or start_after.encode() < prefix.encode()
            upper = prefix_upper_bound(prefix) if prefix else None
            params: list[object] = [nsid, (prefix if inclusive else start_after or "").encode()]
            if upper is not None:
                params.append(upper.encode())
            params += [self._clock(), limit + 1]
            rows = await self._all(self._sql.list_keys(inclusive, upper is not None), params)
            complete = len(rows) <= limit
            keys = [
                KeyInfo(bytes(k).decode(), exp, meta, size, written)
                for k, exp, meta, size, written in rows[:limit]
            ]
            return KeyPage(keys, complete)

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        with self._faults:
            now = self._clock()
            params = {
                "nsid": await self._nsid(namespace_id),
                "key": key.encode(),
                "by": by,
                "exp": expiration,
                "now": now,
                "written": int(now),
            }
            try:
                row = await self._one(self._sql.incr, params)
            except (pg_errors.NumericValueOutOfRange, pg_errors.InvalidTextRepresentation) as e:
                raise errors.BadRequest(NOT_AN_INTEGER) from e
            if row is None:
                raise errors.BadRequest(NOT_AN_INTEGER)
            return int(row[0])

    # change feed and housekeeping

    async def feed_position(self) -> str:
        with self._faults:
            return int_position(int((await self._one(self._sql.last_seq))[0]))

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        with self._faults:
            since = parse_int_position(position)
            self.feed_reads += 1
            pool = await self._open()
            async with AsyncDeadline(self._timeout), pool.connection() as conn, conn.transaction():
                # Exclusive for the moment of the read: every write that drew a number has ended.
                await conn.execute(self._sql.feed_lock)
                cur = await conn.execute(self._sql.changes, (since, limit), binary=True)
                rows = await cur.fetchall()
                cur = await conn.execute(self._sql.feed_bounds)
                purged, newest = await cur.fetchone()  # type: ignore[misc]
            found = [
                Change(seq, ns, None if key is None else bytes(key).decode(), at)
                for seq, ns, key, at in rows
            ]
            behind = position is not None and (since < purged or since > newest)
            last = found[-1].seq if found else max(since, 0)
            return FeedPage(found, int_position(last), behind)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        with self._faults:
            since = parse_int_position(position)
            pool = await self._open()
            async with AsyncDeadline(self._timeout + seconds), pool.connection() as conn:
                await conn.execute(f"LISTEN {postgres_schema.quote_ident(self._sql.channel)}")
                try:
                    self.feed_reads += 1
                    cur = await conn.execute(self._sql.last_seq)
                    if int((await cur.fetchone())[0]) > since:  # type: ignore[index]
                        return True
                    async for _ in conn.notifies(timeout=seconds, stop_after=1):
                        return True
                    return False
                finally:
                    await conn.execute("UNLISTEN *")

    async def purge_expired(self, limit: int = 1000) -> int:
        with self._faults:
            return await self._purge_some(self._clock(), limit)

    async def _purge_some(self, now: float, limit: int = 256) -> int:
        self._next_purge = now + self._purge_interval
        horizon = time.time() - self._feed_retention
        pool = await self._open()
        async with AsyncDeadline(self._timeout), pool.connection() as conn:
            async with conn.transaction():
                # The feed's new changes into the totals (only folded changes are purged),
                # and what the sweep reclaims out of them, one updater of totals at a time.
                await conn.execute(self._sql.usage_lock)
                await conn.execute(self._sql.feed_lock)
                await conn.execute(self._sql.fold)
            async with conn.transaction():
                await conn.execute(self._sql.usage_lock)
                cur = await conn.execute(self._sql.purge_expired, (now, limit))
                purged = int((await cur.fetchone())[0])  # type: ignore[index]
            cur = await conn.execute(self._sql.purge_changes, (horizon, limit))
            purged += int((await cur.fetchone())[0])  # type: ignore[index]
            await conn.execute(self._sql.purge_namespaces, (horizon,))
        return purged

    async def aclose(self) -> None:
        with self._faults:
            await self._pool.close()
