"""SQL of the embedded store, I/O-free: the schema and the statements both shells run.

Design notes (why, not what):
- Keys are TEXT compared with SQLite's BINARY collation, which is memcmp over UTF-8: list order
  is UTF-8 byte order without encoding keys in Python.
- A namespace's number is cached per process; the `entries_live_namespace` trigger refuses a
  write into a namespace another process deleted meanwhile (one primary-key probe).
- Versions are sequence numbers of the change feed. The version of a write is computed in the
  write statement itself and triggers append the feed entry, so a put is one statement and one
  implicit transaction: the write and its feed entry commit together, or neither does.
- Large values live in `blobs` (a rowid table) so they are written and read in chunks through
  blob I/O, never twice in memory; small ones stay inline, one B-tree lookup away.
- The default page size is 1 KiB: a put writes two pages (entry, feed) to the WAL, and smaller
  pages made a durable put 1.6x faster here than 4 KiB ones (benchmarks/bench_core.py).
"""

from __future__ import annotations

from edgekv.stores import namespace_sql

SCHEMA_VERSION = 2
PAGE_SIZE = 1024

PRAGMAS = (
    "PRAGMA synchronous=NORMAL",  # WAL + NORMAL: a commit survives a killed process
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",  # 64 MiB page cache
    "PRAGMA mmap_size=268435456",
    # Checkpoints copy the WAL into the database and fsync it; with 1 KiB pages the default
    # (every 1,000 pages) made them a third of a put's cost. 10,000 pages is a 10 MiB WAL.
    "PRAGMA wal_autocheckpoint=10000",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    nsid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at REAL NOT NULL,
    deleted_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS namespaces_by_title ON namespaces(account_id, title)
    WHERE deleted_at IS NULL;
CREATE TABLE IF NOT EXISTS entries (
    nsid INTEGER NOT NULL,
    key TEXT NOT NULL,
    value BLOB,
    blob_id INTEGER,
    metadata TEXT,
    expiration INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (nsid, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY,
    nsid INTEGER NOT NULL,
    key TEXT,
    at INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS entries_live_namespace BEFORE INSERT ON entries
    WHEN NOT EXISTS (SELECT 1 FROM namespaces WHERE nsid = NEW.nsid AND deleted_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'namespace not found');
END;
CREATE TRIGGER IF NOT EXISTS entries_feed_insert AFTER INSERT ON entries BEGIN
    INSERT INTO changes (seq, nsid, key, at) VALUES (NEW.version, NEW.nsid, NEW.key, unixepoch());
END;
CREATE TRIGGER IF NOT EXISTS entries_feed_update AFTER UPDATE OF version ON entries BEGIN
    INSERT INTO changes (seq, nsid, key, at) VALUES (NEW.version, NEW.nsid, NEW.key, unixepoch());
    DELETE FROM blobs WHERE OLD.blob_id IS NOT NULL AND id = OLD.blob_id
        AND OLD.blob_id IS NOT NEW.blob_id;
END;
CREATE TRIGGER IF NOT EXISTS entries_drop_blob AFTER DELETE ON entries
    WHEN OLD.blob_id IS NOT NULL BEGIN
    DELETE FROM blobs WHERE id = OLD.blob_id;
END;
"""

# The newest change is never purged, so max(seq) only grows: versions are never reused.
NEXT_VERSION = "COALESCE((SELECT max(seq) FROM changes), 0) + 1"
LAST_SEQ = "SELECT COALESCE((SELECT max(seq) FROM changes), 0)"
# Two subqueries, not min() and max() in one SELECT: SQLite answers a lone min or max from the
# primary key's B-tree, but both together scan the whole table (26 ms at 200,000 changes, on
# every page the edge's feed follower reads).
FEED_BOUNDS = (
    "SELECT COALESCE((SELECT min(seq) FROM changes), 0),"
    " COALESCE((SELECT max(seq) FROM changes), 0)"
)

LIVE = "(expiration IS NULL OR expiration > ?)"

GET = (
    "SELECT value, metadata, expiration, version, blob_id FROM entries"
    f" WHERE nsid = ? AND key = ? AND {LIVE}"
)

GET_VALUE = f"SELECT value, blob_id FROM entries WHERE nsid = ? AND key = ? AND {LIVE}"


def get_many(count: int) -> str:
    marks = ",".join("?" * count)
    return (
        "SELECT key, value, metadata, expiration, version, blob_id FROM entries"
        f" WHERE nsid = ? AND key IN ({marks}) AND {LIVE}"
    )


BLOB_DATA = "SELECT data FROM blobs WHERE id = ?"
NEW_BLOB = "INSERT INTO blobs (data) VALUES (zeroblob(?))"

_COLUMNS = "(nsid, key, value, blob_id, metadata, expiration, version)"
_SET = (
    " value = excluded.value, blob_id = excluded.blob_id, metadata = excluded.metadata,"
    " expiration = excluded.expiration, version = excluded.version"
)


def upsert(only_if_absent: bool = False) -> str:
    """Insert or replace; with only_if_absent, replace only an expired entry."""
    sql = (
        f"INSERT INTO entries {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, {NEXT_VERSION})"
        f" ON CONFLICT (nsid, key) DO UPDATE SET{_SET}"
    )
    if only_if_absent:
        sql += " WHERE entries.expiration IS NOT NULL AND entries.expiration <= ?"
    return sql + " RETURNING version"


UPDATE_IF_VERSION = (
    "UPDATE entries SET value = ?, blob_id = ?, metadata = ?, expiration = ?,"
    f" version = {NEXT_VERSION} WHERE nsid = ? AND key = ? AND version = ? AND {LIVE}"
    " RETURNING version"
)

UPSERT_MANY = (
    f"INSERT INTO entries {_COLUMNS} VALUES (?, ?, ?, NULL, ?, ?, {NEXT_VERSION})"
    f" ON CONFLICT (nsid, key) DO UPDATE SET{_SET}"
)

# A counter is the decimal text of a 64-bit integer. An expired entry counts as absent; a value
# that is not such text, or a sum past 64 bits (SQLite would turn it into a REAL), makes the
# statement return no row, and the caller says why. A counter is always inline: an expired
# large value it replaces gives up its blob (the update trigger drops it).
_EXPIRED = "(entries.expiration IS NOT NULL AND entries.expiration <= :now)"
_CURRENT = "CAST(entries.value AS TEXT)"
INCR = (
    f"INSERT INTO entries {_COLUMNS}"
    f" VALUES (:nsid, :key, CAST(CAST(:by AS TEXT) AS BLOB), NULL, NULL, :exp, {NEXT_VERSION})"
    " ON CONFLICT (nsid, key) DO UPDATE SET blob_id = NULL,"
    f" value = CAST(CAST(CASE WHEN {_EXPIRED} THEN :by"
    f" ELSE CAST({_CURRENT} AS INTEGER) + :by END AS TEXT) AS BLOB),"
    f" metadata = CASE WHEN {_EXPIRED} THEN NULL ELSE entries.metadata END,"
    f" expiration = CASE WHEN :exp IS NOT NULL THEN :exp WHEN {_EXPIRED} THEN NULL"
    " ELSE entries.expiration END,"
    " version = excluded.version"
    f" WHERE {_EXPIRED} OR (entries.blob_id IS NULL"
    f" AND CAST(CAST({_CURRENT} AS INTEGER) AS TEXT) = {_CURRENT}"
    f" AND typeof(CAST({_CURRENT} AS INTEGER) + :by) = 'integer')"
    " RETURNING CAST(value AS TEXT)"
)


def delete_many(count: int) -> str:
    marks = ",".join("?" * count)
    return f"DELETE FROM entries WHERE nsid = ? AND key IN ({marks}) RETURNING key"


FEED_APPEND = f"INSERT INTO changes (seq, nsid, key, at) VALUES ({NEXT_VERSION}, ?, ?, unixepoch())"


def list_keys(lower_inclusive: bool, has_upper: bool) -> str:
    sql = "SELECT key, expiration, metadata FROM entries WHERE nsid = ?"
    sql += " AND key >= ?" if lower_inclusive else " AND key > ?"
    if has_upper:
        sql += " AND key < ?"
    return sql + f" AND {LIVE} ORDER BY key LIMIT ?"


# Feed entries name namespaces by internal number; deleted namespaces stay in `namespaces`
# (as tombstones) until their feed entries are purged, so every entry can be named.
CHANGES = (
    "SELECT c.seq, n.id, c.key, c.at FROM changes c JOIN namespaces n ON n.nsid = c.nsid"
    " WHERE c.seq > ? ORDER BY c.seq LIMIT ?"
)

# Expired entries are found by a sweep that walks the table a slice at a time from where the
# last one stopped, not by an index on expiration: that index made every put with a TTL write
# a third page. Reads never see expired entries anyway; the sweep only reclaims space.
SWEEP = (
    "SELECT nsid, key, expiration FROM entries WHERE (nsid, key) > (?, ?)"
    " ORDER BY nsid, key LIMIT ?"
)
PURGE_EXPIRED = "DELETE FROM entries WHERE nsid = ? AND key = ? AND expiration <= ?"
PURGE_CHANGES = (
    "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE at < ?"
    " AND seq < (SELECT max(seq) FROM changes) ORDER BY seq LIMIT ?)"
)
PURGE_NAMESPACES = (
    "DELETE FROM namespaces WHERE deleted_at IS NOT NULL AND deleted_at < ?"
    " AND nsid NOT IN (SELECT nsid FROM changes)"
)

NAMESPACE_COLUMNS = namespace_sql.COLUMNS
LIVE_NAMESPACE = namespace_sql.LIVE
