"""The embedded central store: one SQLite file in WAL mode, shared by threads and processes.

SQLite answers a point read in microseconds, far less than a hop to a thread pool would cost,
so the async shell calls it on the event loop's thread. Each thread has its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from edgekv import errors
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
from edgekv.stores.deadlines import TIMEOUT, Deadlines
from edgekv.stores.faults import StoreFaults, unavailable
from edgekv.stores.positions import int_position, parse_int_position
from edgekv.stores.sqlite import schema as sql
from edgekv.stores.sqlite.faults import CLOSED, LOCKED, SQLiteFaults

_UPSERT = sql.upsert()
# Values at least this large live in `blobs`, written and read in chunks through blob I/O.
LARGE_VALUE = 1 << 20
CHUNK = 1 << 16
FEED_POLL = 0.005  # seconds between two looks at the feed: 200 cheap queries a second
# A file's write lock is waited for in steps: SQLite's own busy wait blocks the thread, which
# here is the event loop's, for LOCK_STEP at most; between steps the loop answers other
# requests (/healthz, reads of memory) for LOCK_PAUSE; the steps end at the store's timeout.
# A short step: a write that waits blocks every other request of the process for that long
# (50 ms steps made a cached GET wait 52 ms while another process held the lock); a write
# of another worker on the same file is done within it.
LOCK_STEP = 0.005
LOCK_PAUSE = 0.02
log = logging.getLogger("edgekv.sqlite")
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _waits_for_lock(method: _Method) -> _Method:
    """A write that found the file locked by another writer (another process's transaction)
    is tried again, for up to the store's timeout: a write that failed on the lock wrote
    nothing, so trying it again is safe."""

    @functools.wraps(method)
    async def waiting(store: AsyncSQLiteStore, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + store._busy_timeout
        while True:
            try:
                return await method(store, *args, **kwargs)
            except errors.StoreUnavailable as e:
                if not _locked(e):
                    raise
                if time.monotonic() + LOCK_PAUSE >= deadline:
                    store._faults.note(LOCKED, e.__cause__ or e)
                    raise
            await asyncio.sleep(LOCK_PAUSE)

    return cast(_Method, waiting)


def _locked(e: BaseException) -> bool:
    code = getattr(e.__cause__, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class AsyncSQLiteStore:
    """`sqlite:///path/to/kv.db`, or `memory://` for a throwaway store in this process.

    `busy_timeout` (the URL's `timeout`, 5 s by default) bounds how long a write waits for
    another writer's lock (another process's transaction) before it fails with
    StoreUnavailable `central store unavailable: locked by another writer`.
    """

    capabilities = Capabilities(
        group_commit=True,  # put_many: one transaction, each write's own version
        change_feed=True,
        ordered_feed=True,  # one sequence for every key
        exclude_own=False,
        conditional_writes=True,
        incr=True,
        versions=True,
    )

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = TIMEOUT,
        feed_retention: float = 24 * 3600,
        purge_interval: float = 1.0,
    ) -> None:
        self._memory = path is None or str(path) == ":memory:"
        if self._memory:
            # A named memdb database is shared by every connection of this process.
            self._target = f"file:/edgekv-{uuid.uuid4().hex}?vfs=memdb"
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
            self._target = os.fspath(path)  # type: ignore[arg-type]
        self.path = None if self._memory else self._target
        self._clock = clock
        self._busy_timeout = busy_timeout
        self.deadlines = Deadlines(busy_timeout)  # connecting to a file waits for nothing
        # A file's lock is waited for in steps (_waits_for_lock); a memdb, shared by the
        # threads of this process only, lets SQLite wait for it at once.
        self._lock_step = busy_timeout if self._memory else min(LOCK_STEP, busy_timeout)
        self._feed_retention = feed_retention
        self._purge_interval = purge_interval
        self._next_purge = 0.0
        self._sweep_from: tuple[int, str] = (0, "")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._nsids: dict[str, int] = {}
        self._closed = False
        self._faults = SQLiteFaults(log)
        self.feed_reads = 0  # feed pages and looks at its end, made here (docs/scaling.md)
        with self._faults:
            self._first = self._connect()  # creates the schema, and keeps a memdb alive

    # connections

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise unavailable(CLOSED)
        conn = sqlite3.connect(
            self._target,
            uri=self._memory,
            timeout=self._busy_timeout,  # setting up waits as long as it must, once
            isolation_level=None,  # autocommit: one statement is one transaction
            check_same_thread=False,
            cached_statements=256,
        )
        conn.execute(f"PRAGMA page_size={sql.PAGE_SIZE}")  # only takes on a new file
        if not self._memory:
            self._into_wal(conn)
        for pragma in sql.PRAGMAS:
            conn.execute(pragma)
        if conn.execute("PRAGMA user_version").fetchone()[0] < sql.SCHEMA_VERSION:
            self._upgrade(conn)
        if self._lock_step != self._busy_timeout:
            conn.execute(f"PRAGMA busy_timeout={int(self._lock_step * 1000)}")
        self._local.conn = conn
        # One cursor per thread for the single-statement hot paths: a cursor per call costs
        # a quarter of a microsecond, and no call awaits between execute and fetch.
        self._local.cursor = conn.cursor()
        with self._lock:
            self._connections.append(conn)
        return conn

    def _into_wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode, which a new file enters once. Processes opening a new file together race
        for it, and SQLite answers the loser "database is locked" at once, without waiting
        for its busy timeout (it would deadlock): try again for as long as that timeout."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # once per process and file: no event loop to keep here

    @staticmethod
    def _upgrade(conn: sqlite3.Connection) -> None:
        """Creates the schema in a new file, or upgrades an older one, in one write
        transaction: processes opening the file at once do not race (the version is read
        again once the transaction holds the write lock)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < sql.SCHEMA_VERSION:
                for statement in sql.upgrade_statements(version):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={sql.SCHEMA_VERSION}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @property
    def _db(self) -> sqlite3.Connection:
        try:
            return self._local.conn  # type: ignore[no-any-return]
        except AttributeError:
            return self._connect()

    def _nsid(self, namespace_id: str) -> int:
        try:
            return self._nsids[namespace_id]
        except KeyError:
            pass
        row = self._db.execute(
            f"SELECT nsid FROM namespaces WHERE id = ? AND {sql.LIVE_NAMESPACE}", (namespace_id,)
        ).fetchone()
        if row is None:
            raise errors.NamespaceNotFound()
        self._nsids[namespace_id] = row[0]
        return int(row[0])

    # namespaces

    def _namespace_row(self, where: str, params: tuple[object, ...]) -> NamespaceInfo:
        row = self._db.execute(
            f"SELECT {sql.NAMESPACE_COLUMNS} FROM namespaces WHERE {where}"
            f" AND {sql.LIVE_NAMESPACE}",
            params,
        ).fetchone()
        if row is None:
            raise errors.NamespaceNotFound()
        return NamespaceInfo(*row)

    @_waits_for_lock
    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        with self._faults:
            chosen = namespace_id or uuid.uuid4().hex
            try:
                self._db.execute(
                    "INSERT INTO namespaces (id, account_id, title, created_at) VALUES (?, ?, ?, ?)",
                    (chosen, account_id, title, time.time()),
                )
            except sqlite3.IntegrityError as e:
                if namespace_id is not None and "namespaces.id" in str(e):
                    row = self._db.execute(
                        "SELECT deleted_at IS NOT NULL FROM namespaces WHERE id = ?", (chosen,)
                    ).fetchone()
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
                "namespaces", account_id, order, direction, "?"
            )
            total = self._db.execute(count, params).fetchone()[0]
            rows = self._db.execute(page, [*params, limit, offset]).fetchall()
            return NamespacePage([NamespaceInfo(*row) for row in rows], total)

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        with self._faults:
            return self._namespace_row("id = ?", (namespace_id,))

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            return self._namespace_row("account_id = ? AND title = ?", (account_id, title))

    @_waits_for_lock
    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            try:
                row = self._db.execute(
                    f"UPDATE namespaces SET title = ? WHERE id = ? AND {sql.LIVE_NAMESPACE}"
                    f" RETURNING {sql.NAMESPACE_COLUMNS}",
                    (title, namespace_id),
                ).fetchone()
            except sqlite3.IntegrityError as e:
                raise errors.DuplicateNamespaceTitle() from e
            if row is None:
                raise errors.NamespaceNotFound()
            return NamespaceInfo(*row)

    @_waits_for_lock
    async def delete_namespace(self, namespace_id: str) -> None:
        with self._faults:
            nsid = self._nsid(namespace_id)
            with self._transaction() as db:
                # The namespace stays as a tombstone so its feed entries can still name it; one
                # feed entry with no key says "all of it".
                db.execute(
                    "UPDATE namespaces SET deleted_at = ? WHERE nsid = ?", (time.time(), nsid)
                )
                db.execute("DELETE FROM entries WHERE nsid = ?", (nsid,))
                db.execute(sql.FEED_APPEND, (nsid, None, 0, 0))
            self._nsids.pop(namespace_id, None)

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        with self._faults:
            row = self._db.execute(sql.NAMESPACE_USAGE, (namespace_id,)).fetchone()
            if row is None:
                raise errors.NamespaceNotFound()
            return NamespaceUsage(int(row[0]), int(row[1]))

    @contextlib.contextmanager
    def _live_namespace(self, namespace_id: str) -> Iterator[None]:
        """Turns the refusal of a write into a deleted namespace into NamespaceNotFound."""
        try:
            yield
        except sqlite3.IntegrityError as e:
            if "namespace not found" not in str(e):
                raise
            self._nsids.pop(namespace_id, None)
            raise errors.NamespaceNotFound() from e

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # entries

    def _entry(
        self, row: tuple[bytes | None, str | None, int | None, int, int | None, int | None]
    ) -> StoredEntry:
        value, metadata, expiration, version, blob_id, written_at = row
        if value is None:
            blob = self._db.execute(sql.BLOB_DATA, (blob_id,)).fetchone()
            value = b"" if blob is None else blob[0]
        return StoredEntry(value, metadata, expiration, version, None, written_at)

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        with self._faults:
            try:
                cursor = self._local.cursor
            except AttributeError:
                cursor = self._connect().cursor()
            nsid = self._nsids.get(namespace_id) or self._nsid(namespace_id)
            row = cursor.execute(sql.GET, (nsid, key, self._clock())).fetchone()
            if row is None:
                return None
            if row[0] is None:
                return self._entry(row)
            return StoredEntry(row[0], row[1], row[2], row[3], None, row[5])

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        with self._faults:
            try:
                cursor = self._local.cursor
            except AttributeError:
                cursor = self._connect().cursor()
            nsid = self._nsids.get(namespace_id) or self._nsid(namespace_id)
            row = cursor.execute(sql.GET_VALUE, (nsid, key, self._clock())).fetchone()
            if row is None:
                return None
            if row[0] is None:
                blob = self._db.execute(sql.BLOB_DATA, (row[1],)).fetchone()
                return b"" if blob is None else blob[0]
            return row[0]  # type: ignore[no-any-return]

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        with self._faults:
            if not keys:
                return []
            found: dict[str, StoredEntry] = {}
            for row in self._db.execute(
                sql.get_many(len(keys)), (self._nsid(namespace_id), *keys, self._clock())
            ).fetchall():
                found[row[0]] = self._entry(row[1:])
            return [found.get(key) for key in keys]

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = CHUNK
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        with self._faults:
            nsid = self._nsids.get(namespace_id) or self._nsid(namespace_id)
            row = self._db.execute(sql.GET, (nsid, key, self._clock())).fetchone()
            if row is None:
                return None
            value, metadata, expiration, version, blob_id, written_at = row
            if value is not None:  # inline: already whole in memory, no snapshot to hold
                entry = StoredEntry(b"", metadata, expiration, version, None, written_at)
                return entry, chunks_of(value, chunk_size)
            # A large value: its own connection and read transaction, so the chunks come from one
            # snapshot even if the key is overwritten meanwhile, and no other call joins it.
            conn = sqlite3.connect(
                self._target,
                uri=self._memory,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout,
            )
            conn.execute("BEGIN")
            row = conn.execute(sql.GET, (nsid, key, self._clock())).fetchone()
            if row is None:
                conn.close()
                return None
            value, metadata, expiration, version, blob_id, written_at = row
            entry = StoredEntry(b"", metadata, expiration, version, None, written_at)
            if value is not None:
                conn.close()
                return entry, chunks_of(value, chunk_size)
            if self._memory:
                # A memdb has no WAL: a read transaction held while the caller reads the stream
                # would lock out every writer of the process, so copy the blob out first.
                try:
                    return entry, _file_chunks(_copy_blob(conn, blob_id), chunk_size, self._faults)
                finally:
                    conn.close()
            return entry, _blob_chunks(conn, blob_id, chunk_size, self._faults)

    @_waits_for_lock
    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        with self._faults:
            nsid = self._nsids.get(namespace_id) or self._nsid(namespace_id)
            now = self._clock()
            with self._live_namespace(namespace_id):
                if write.size < LARGE_VALUE and isinstance(write.value, bytes):
                    row = self._put_row(
                        nsid, write, write.value, None, only_if_absent, if_version, now
                    )
                else:
                    with self._transaction() as db:
                        blob_id = db.execute(sql.NEW_BLOB, (write.size,)).lastrowid
                        self._write_blob(db, blob_id, write)  # type: ignore[arg-type]
                        row = self._put_row(
                            nsid, write, None, blob_id, only_if_absent, if_version, now
                        )
                        if row is None:
                            db.execute("DELETE FROM blobs WHERE id = ?", (blob_id,))
            if row is None:
                if if_version is not None:
                    self._nsids.pop(namespace_id, None)
                    self._nsid(namespace_id)  # NamespaceNotFound if it was deleted meanwhile
                raise errors.PreconditionFailed(
                    "key already exists" if only_if_absent else "version does not match"
                )
            if now >= self._next_purge:
                self._purge_after_write(now)
            return int(row[0])

    def _put_row(
        self,
        nsid: int,
        write: EntryWrite,
        value: bytes | None,
        blob_id: int | None,
        only_if_absent: bool,
        if_version: int | None,
        now: float,
    ) -> tuple[int] | None:
        meta, exp = write.metadata_json, write.expiration
        size = len(value) if value is not None else write.size
        if if_version is not None:
            params: tuple[object, ...] = (
                value,
                blob_id,
                meta,
                exp,
                size,
                int(now),
                nsid,
                write.key,
                if_version,
                now,
            )
            return self._db.execute(sql.UPDATE_IF_VERSION, params).fetchone()  # type: ignore[no-any-return]
        params = (nsid, write.key, value, blob_id, meta, exp, size, int(now))
        if only_if_absent:
            return self._db.execute(sql.upsert(True), (*params, now)).fetchone()  # type: ignore[no-any-return]
        try:
            cursor = self._local.cursor
        except AttributeError:
            cursor = self._connect().cursor()
        return cursor.execute(_UPSERT, params).fetchone()  # type: ignore[no-any-return]

    @staticmethod
    def _write_blob(db: sqlite3.Connection, blob_id: int, write: EntryWrite) -> None:
        with db.blobopen("blobs", "data", blob_id) as blob:
            if isinstance(write.value, bytes):
                view = memoryview(write.value)
                for start in range(0, len(view), CHUNK):
                    blob.write(view[start : start + CHUNK])
            else:
                source: IO[bytes] = write.value
                while chunk := source.read(CHUNK):
                    blob.write(chunk)

    @_waits_for_lock
    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        with self._faults:
            nsid = self._nsid(namespace_id)
            written = int(self._clock())
            rows = []
            for w in writes:
                value = w.value if isinstance(w.value, bytes) else w.value.read()
                rows.append(
                    (nsid, w.key, value, w.metadata_json, w.expiration, len(value), written)
                )
            with self._live_namespace(namespace_id), self._transaction() as db:
                base = db.execute(sql.LAST_SEQ).fetchone()[0]
                db.executemany(sql.UPSERT_MANY, rows)
            now = self._clock()
            if now >= self._next_purge:
                self._purge_after_write(now)
            return list(range(base + 1, base + 1 + len(rows)))

    @_waits_for_lock
    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        with self._faults:
            nsid = self._nsid(namespace_id)
            with self._transaction() as db:
                for start in range(0, len(keys), 500):
                    batch = keys[start : start + 500]
                    deleted = db.execute(sql.delete_many(len(batch)), (nsid, *batch)).fetchall()
                    for key, size in deleted:
                        db.execute(sql.FEED_APPEND, (nsid, key, -1, -size))

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
            nsid = self._nsid(namespace_id)
            inclusive = start_after is None or start_after < prefix
            upper = prefix_upper_bound(prefix) if prefix else None
            params: list[object] = [nsid, prefix if inclusive else start_after]
            if upper is not None:
                params.append(upper)
            params += [self._clock(), limit + 1]
            rows = self._db.execute(sql.list_keys(inclusive, upper is not None), params).fetchall()
            complete = len(rows) <= limit
            return KeyPage([KeyInfo(*row) for row in rows[:limit]], complete)

    @_waits_for_lock
    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        with self._faults:
            now = self._clock()
            params = {
                "nsid": self._nsid(namespace_id),
                "key": key,
                "by": by,
                "exp": expiration,
                "now": now,
                "written": int(now),
            }
            with self._live_namespace(namespace_id):
                row = self._db.execute(sql.INCR, params).fetchone()
            if row is None:
                raise errors.BadRequest("value is not an integer, or the sum exceeds 64 bits")
            return int(row[0])

    # change feed and housekeeping

    async def feed_position(self) -> str:
        with self._faults:
            return int_position(int(self._db.execute(sql.LAST_SEQ).fetchone()[0]))

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        with self._faults:
            since = parse_int_position(position)
            self.feed_reads += 1
            db = self._db
            db.execute("BEGIN")  # one snapshot: the page and the bounds it is judged by agree
            try:
                rows = db.execute(sql.CHANGES, (since, limit)).fetchall()
                oldest, newest = db.execute(sql.FEED_BOUNDS).fetchone()
            finally:
                db.execute("COMMIT")
            # Sequence numbers have no holes (each write takes max + 1), so a position is behind
            # when the oldest change kept is past the next one it expects, or the file was replaced.
            behind = position is not None and (oldest > since + 1 or since > newest)
            last = rows[-1][0] if rows else since
            return FeedPage([Change(*row) for row in rows], int_position(last), behind)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        with self._faults:
            # A poll of the newest sequence number: one B-tree descent, cheap enough every 5 ms.
            since = parse_int_position(position)
            deadline = time.monotonic() + seconds
            while True:
                self.feed_reads += 1
                if self._db.execute(sql.LAST_SEQ).fetchone()[0] > since:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                await asyncio.sleep(min(FEED_POLL, left))

    @_waits_for_lock
    async def purge_expired(self, limit: int = 1000) -> int:
        with self._faults:
            return self._purge_some(self._clock(), limit)

    def _purge_after_write(self, now: float) -> None:
        """The write is committed: a purge that finds the file locked is left for later
        (were it to fail the call, the call would be tried again and write twice)."""
        try:
            self._purge_some(now)
        except sqlite3.OperationalError as e:
            if (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF not in (
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
            ):
                raise

    def _purge_some(self, now: float, limit: int = 256) -> int:
        # A slice of the sweep and of the feed's tail at most once per purge_interval, on the
        # write path: short write transactions, and WAL readers never wait on them.
        self._next_purge = now + self._purge_interval
        db = self._db
        rows = db.execute(sql.SWEEP, (*self._sweep_from, limit)).fetchall()
        self._sweep_from = (rows[-1][0], rows[-1][1]) if len(rows) == limit else (0, "")
        expired = [(nsid, key, now) for nsid, key, exp in rows if exp is not None and exp <= now]
        horizon = time.time() - self._feed_retention
        with self._transaction():
            # The feed's new changes into the namespaces' totals first: only folded changes
            # are purged. Then what the sweep reclaims leaves the totals in this transaction.
            newest = db.execute(sql.LAST_SEQ).fetchone()[0]
            db.execute(sql.FOLD, (newest,))
            db.execute(sql.FOLDED, (newest,))
            purged = 0
            reclaimed: dict[int, list[int]] = {}
            for params in expired:
                for (size,) in db.execute(sql.PURGE_EXPIRED, params).fetchall():
                    totals = reclaimed.setdefault(params[0], [0, 0])
                    totals[0] += 1
                    totals[1] += size
                    purged += 1
            for nsid, (keys, size) in reclaimed.items():
                db.execute(sql.UNCOUNT, (keys, size, nsid))
            purged += db.execute(sql.PURGE_CHANGES, (int(horizon), limit)).rowcount
            db.execute(sql.PURGE_NAMESPACES, (horizon,))
        return purged

    async def aclose(self) -> None:
        with self._faults:
            self._closed = True
            with self._lock:
                connections, self._connections = self._connections, []
            for conn in connections:
                conn.close()
            self._local = threading.local()


def _copy_blob(conn: sqlite3.Connection, blob_id: int) -> IO[bytes]:
    """A blob copied in chunks into a file that spills to disk past LARGE_VALUE."""
    copy = tempfile.SpooledTemporaryFile(max_size=LARGE_VALUE)  # noqa: SIM115
    with conn.blobopen("blobs", "data", blob_id, readonly=True) as blob:
        while chunk := blob.read(CHUNK):
            copy.write(chunk)
    copy.seek(0)
    return copy


async def _file_chunks(
    file: IO[bytes], chunk_size: int, faults: StoreFaults
) -> AsyncIterator[bytes]:
    with faults, file:
        while chunk := file.read(chunk_size):
            yield chunk


async def _blob_chunks(
    conn: sqlite3.Connection, blob_id: int, chunk_size: int, faults: StoreFaults
) -> AsyncIterator[bytes]:
    try:
        with faults, conn.blobopen("blobs", "data", blob_id, readonly=True) as blob:
            while chunk := blob.read(chunk_size):
                yield chunk
    finally:
        conn.close()
