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
- A namespace's stored keys and bytes are running totals, so reading them costs the same at a
  million keys as at ten. A write does not update them in place (that would be a third page
  per put): its feed entry carries what it changed (`dkeys`, `dbytes`, set by the same
  triggers), and the purge folds the feed's new entries into `namespaces.stored_*` a slice of
  time at a time. The totals are then the folded sums plus the unfolded feed entries (a
  second's worth), read in one statement. Entries the sweep reclaims are taken out of the
  totals in the sweep's own transaction.
- Schema versions upgrade in place, in one write transaction (MIGRATIONS): a file written by
  an older edgekv gains the new columns and its totals are computed once.
"""

from __future__ import annotations

import sqlite3

from edgekv.stores import namespace_sql

SCHEMA_VERSION = 3
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
    deleted_at REAL,
    stored_keys INTEGER NOT NULL DEFAULT 0,
    stored_bytes INTEGER NOT NULL DEFAULT 0
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
    size INTEGER NOT NULL DEFAULT 0,
    written_at INTEGER,
    PRIMARY KEY (nsid, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY,
    nsid INTEGER NOT NULL,
    key TEXT,
    at INTEGER NOT NULL,
    dkeys INTEGER NOT NULL DEFAULT 0,
    dbytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage_fold (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    folded_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO usage_fold VALUES (1, (SELECT COALESCE(max(seq), 0) FROM changes));
CREATE TRIGGER IF NOT EXISTS entries_live_namespace BEFORE INSERT ON entries
    WHEN NOT EXISTS (SELECT 1 FROM namespaces WHERE nsid = NEW.nsid AND deleted_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'namespace not found');
END;
CREATE TRIGGER IF NOT EXISTS entries_feed_insert AFTER INSERT ON entries BEGIN
    INSERT INTO changes (seq, nsid, key, at, dkeys, dbytes)
        VALUES (NEW.version, NEW.nsid, NEW.key, unixepoch(), 1, NEW.size);
END;
CREATE TRIGGER IF NOT EXISTS entries_feed_update AFTER UPDATE OF version ON entries BEGIN
    INSERT INTO changes (seq, nsid, key, at, dkeys, dbytes)
        VALUES (NEW.version, NEW.nsid, NEW.key, unixepoch(), 0, NEW.size - OLD.size);
    DELETE FROM blobs WHERE OLD.blob_id IS NOT NULL AND id = OLD.blob_id
        AND OLD.blob_id IS NOT NEW.blob_id;
END;
CREATE TRIGGER IF NOT EXISTS entries_drop_blob AFTER DELETE ON entries
    WHEN OLD.blob_id IS NOT NULL BEGIN
    DELETE FROM blobs WHERE id = OLD.blob_id;
END;
"""

# What a file of an older schema version runs before SCHEMA, by the version it upgrades to.
# Version 3: each entry's size and last write, and each namespace's stored keys and bytes.
# The last write of an entry is its feed entry's time while the feed still holds it; older
# entries show none. The feed triggers are dropped here so that SCHEMA makes them anew.
MIGRATIONS: dict[int, str] = {
    3: """
ALTER TABLE entries ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN written_at INTEGER;
ALTER TABLE changes ADD COLUMN dkeys INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN dbytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE namespaces ADD COLUMN stored_keys INTEGER NOT NULL DEFAULT 0;
ALTER TABLE namespaces ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE entries SET
    size = COALESCE(length(value), (SELECT length(data) FROM blobs WHERE id = entries.blob_id), 0),
    written_at = (SELECT at FROM changes WHERE seq = entries.version);
UPDATE namespaces SET
    stored_keys = (SELECT count(*) FROM entries e WHERE e.nsid = namespaces.nsid),
    stored_bytes = (SELECT COALESCE(sum(size), 0) FROM entries e WHERE e.nsid = namespaces.nsid);
DROP TRIGGER IF EXISTS entries_feed_insert;
DROP TRIGGER IF EXISTS entries_feed_update;
""",
}


def upgrade_statements(version: int) -> list[str]:
    """Every statement that brings a file of schema `version` (0: a new file) to
    SCHEMA_VERSION, one by one: the caller runs them in its own transaction (executescript
    would commit it first)."""
    steps = range(version + 1, SCHEMA_VERSION + 1) if version else range(0)
    return split_statements("".join(MIGRATIONS.get(v, "") for v in steps) + SCHEMA)


def split_statements(script: str) -> list[str]:
    """A script's statements, a trigger's body kept whole (sqlite3.complete_statement)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


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
    "SELECT value, metadata, expiration, version, blob_id, written_at FROM entries"
    f" WHERE nsid = ? AND key = ? AND {LIVE}"
)

GET_VALUE = f"SELECT value, blob_id FROM entries WHERE nsid = ? AND key = ? AND {LIVE}"


def get_many(count: int) -> str:
    marks = ",".join("?" * count)
    return (
        "SELECT key, value, metadata, expiration, version, blob_id, written_at FROM entries"
        f" WHERE nsid = ? AND key IN ({marks}) AND {LIVE}"
    )


BLOB_DATA = "SELECT data FROM blobs WHERE id = ?"
NEW_BLOB = "INSERT INTO blobs (data) VALUES (zeroblob(?))"

_COLUMNS = "(nsid, key, value, blob_id, metadata, expiration, size, written_at, version)"
_SET = (
    " value = excluded.value, blob_id = excluded.blob_id, metadata = excluded.metadata,"
    " expiration = excluded.expiration, size = excluded.size,"
    " written_at = excluded.written_at, version = excluded.version"
)


def upsert(only_if_absent: bool = False) -> str:
    """Insert or replace; with only_if_absent, replace only an expired entry."""
    sql = (
        f"INSERT INTO entries {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, {NEXT_VERSION})"
        f" ON CONFLICT (nsid, key) DO UPDATE SET{_SET}"
    )
    if only_if_absent:
        sql += " WHERE entries.expiration IS NOT NULL AND entries.expiration <= ?"
    return sql + " RETURNING version"


UPDATE_IF_VERSION = (
    "UPDATE entries SET value = ?, blob_id = ?, metadata = ?, expiration = ?, size = ?,"
    f" written_at = ?, version = {NEXT_VERSION} WHERE nsid = ? AND key = ? AND version = ?"
    f" AND {LIVE}"
    " RETURNING version"
)

UPSERT_MANY = (
    f"INSERT INTO entries {_COLUMNS} VALUES (?, ?, ?, NULL, ?, ?, ?, ?, {NEXT_VERSION})"
    f" ON CONFLICT (nsid, key) DO UPDATE SET{_SET}"
)

# A counter is the decimal text of a 64-bit integer. An expired entry counts as absent; a value
# that is not such text, or a sum past 64 bits (SQLite would turn it into a REAL), makes the
# statement return no row, and the caller says why. A counter is always inline: an expired
# large value it replaces gives up its blob (the update trigger drops it).
_EXPIRED = "(entries.expiration IS NOT NULL AND entries.expiration <= :now)"
_CURRENT = "CAST(entries.value AS TEXT)"
_SUM = f"CAST(CASE WHEN {_EXPIRED} THEN :by ELSE CAST({_CURRENT} AS INTEGER) + :by END AS TEXT)"
INCR = (
    f"INSERT INTO entries {_COLUMNS}"
    " VALUES (:nsid, :key, CAST(CAST(:by AS TEXT) AS BLOB), NULL, NULL, :exp,"
    f" length(CAST(:by AS TEXT)), :written, {NEXT_VERSION})"
    " ON CONFLICT (nsid, key) DO UPDATE SET blob_id = NULL,"
    f" value = CAST({_SUM} AS BLOB), size = length({_SUM}), written_at = :written,"
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
    return f"DELETE FROM entries WHERE nsid = ? AND key IN ({marks}) RETURNING key, size"


# A change appended by hand (a delete, a namespace deleted): with what it took out of the totals.
FEED_APPEND = (
    "INSERT INTO changes (seq, nsid, key, at, dkeys, dbytes)"
    f" VALUES ({NEXT_VERSION}, ?, ?, unixepoch(), ?, ?)"
)


def list_keys(lower_inclusive: bool, has_upper: bool) -> str:
    sql = "SELECT key, expiration, metadata, size, written_at FROM entries WHERE nsid = ?"
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
PURGE_EXPIRED = "DELETE FROM entries WHERE nsid = ? AND key = ? AND expiration <= ? RETURNING size"
UNCOUNT = "UPDATE namespaces SET stored_keys = stored_keys - ?, stored_bytes = stored_bytes - ? WHERE nsid = ?"
# Only folded changes are purged: the totals need every change until it is folded.
PURGE_CHANGES = (
    "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE at < ?"
    " AND seq < (SELECT max(seq) FROM changes)"
    " AND seq <= (SELECT folded_through FROM usage_fold) ORDER BY seq LIMIT ?)"
)
# Folds the feed's changes up to a sequence number into the totals (in one write transaction).
FOLD = (
    "UPDATE namespaces SET stored_keys = stored_keys + d.k, stored_bytes = stored_bytes + d.b"
    " FROM (SELECT nsid, sum(dkeys) AS k, sum(dbytes) AS b FROM changes"
    " WHERE seq > (SELECT folded_through FROM usage_fold) AND seq <= ? GROUP BY nsid) AS d"
    " WHERE namespaces.nsid = d.nsid"
)
FOLDED = "UPDATE usage_fold SET folded_through = ?"
NAMESPACE_USAGE = (
    "SELECT n.stored_keys + COALESCE(sum(c.dkeys), 0), n.stored_bytes + COALESCE(sum(c.dbytes), 0)"
    " FROM namespaces n LEFT JOIN changes c ON c.nsid = n.nsid"
    " AND c.seq > (SELECT folded_through FROM usage_fold)"
    " WHERE n.id = ? AND n.deleted_at IS NULL GROUP BY n.nsid"
)
PURGE_NAMESPACES = (
    "DELETE FROM namespaces WHERE deleted_at IS NOT NULL AND deleted_at < ?"
    " AND nsid NOT IN (SELECT nsid FROM changes)"
)

NAMESPACE_COLUMNS = namespace_sql.COLUMNS
LIVE_NAMESPACE = namespace_sql.LIVE
