"""SQL of the PostgreSQL store, I/O-free: the schema and the statements both shells run.

Design notes (why, not what):
- Keys are `bytea` holding the key's UTF-8: bytea compares with memcmp, so ORDER BY gives the
  UTF-8 byte order of the contract whatever the database's collation, and a key may hold NUL,
  which `text` refuses.
- Versions come from one sequence and are the change feed's sequence numbers. A sequence hands
  out numbers in call order, not commit order: a reader of `seq > since` could pass a lower
  number whose transaction commits later, and miss it for good. So every write transaction
  takes a *shared* transaction-level advisory lock before it draws a number, and a feed reader
  takes the same lock *exclusively* for the moment of its read: it waits until every write that
  holds a number has committed or rolled back, so what it reads has no hole that can still be
  filled. Writers never wait for each other (shared), only, briefly, for a feed read.
- A write over an existing row draws its version in `DO UPDATE`, which runs once it holds the
  row's lock: versions of a key grow in the order its writes apply, even when transactions
  that write it run side by side (the one drawn with the inserted row would predate the wait).
  A statement writing many rows writes them in key order, so two such never wait for each
  other in a cycle (a deadlock).
- The feed row is appended by a trigger on `entries` (as in the SQLite store), so a write and
  its feed entry are one statement; a statement trigger on `changes` sends NOTIFY, delivered at
  commit, so a listener never hears of a change it cannot read yet.
- Values of 1 MiB and more live in `blob_chunks`, 1 MiB per row, written and read a chunk at a
  time so neither side ever holds the whole 25 MiB value; the entry names the blob.
- Expired entries are filtered on every read and deleted in slices by `purge_expired`, which a
  partial index on expiration keeps cheap.
- A namespace's stored keys and bytes are running totals. A write does not update a row of
  totals (every writer of a namespace would queue on its lock): its feed entry carries what it
  changed (`dkeys`, `dbytes`, set by the same trigger), and the purge folds the feed into
  `namespaces.stored_*` under the feed's exclusive lock, so no change it has not seen can
  still commit below the point it folded through. The totals are the folded sums plus the
  unfolded changes, read in one statement (one snapshot). Folds and the sweep, which takes
  what it reclaims out of the totals itself, take one more advisory lock, so they never
  update two namespaces' totals in opposite orders.
- The DDL is idempotent and also upgrades a schema of an older version in place (ALTER ...
  IF NOT EXISTS, then the one-time backfill of BACKFILL), under the migration lock.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

SCHEMA_VERSION = 2
LOCK_CLASS = 0x65646B76  # "edkv": the advisory-lock namespace of edgekv

DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.meta (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.namespaces (
    nsid bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    account_id text NOT NULL,
    title text NOT NULL,
    created_at double precision NOT NULL,
    deleted_at double precision,
    stored_keys bigint NOT NULL DEFAULT 0,
    stored_bytes bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS namespaces_by_title ON {s}.namespaces (account_id, title)
    WHERE deleted_at IS NULL;
CREATE SEQUENCE IF NOT EXISTS {s}.versions;
CREATE SEQUENCE IF NOT EXISTS {s}.blob_ids;
CREATE TABLE IF NOT EXISTS {s}.entries (
    nsid bigint NOT NULL,
    key bytea NOT NULL,
    value bytea,
    blob_id bigint,
    metadata text,
    expiration bigint,
    version bigint NOT NULL,
    size bigint NOT NULL DEFAULT 0,
    written_at bigint,
    PRIMARY KEY (nsid, key)
);
CREATE INDEX IF NOT EXISTS entries_by_expiration ON {s}.entries (expiration)
    WHERE expiration IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.blob_chunks (
    blob_id bigint NOT NULL,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (blob_id, n)
);
CREATE TABLE IF NOT EXISTS {s}.changes (
    seq bigint PRIMARY KEY,
    nsid bigint NOT NULL,
    key bytea,
    at double precision NOT NULL,
    dkeys bigint NOT NULL DEFAULT 0,
    dbytes bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS {s}.feed_state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    purged_through bigint NOT NULL DEFAULT 0,
    folded_through bigint NOT NULL DEFAULT 0
);
INSERT INTO {s}.feed_state DEFAULT VALUES ON CONFLICT DO NOTHING;
ALTER TABLE {s}.namespaces ADD COLUMN IF NOT EXISTS stored_keys bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS stored_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE {s}.entries ADD COLUMN IF NOT EXISTS size bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS written_at bigint;
ALTER TABLE {s}.changes ADD COLUMN IF NOT EXISTS dkeys bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS dbytes bigint NOT NULL DEFAULT 0;
ALTER TABLE {s}.feed_state ADD COLUMN IF NOT EXISTS folded_through bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION {s}.entries_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {s}.changes (seq, nsid, key, at, dkeys, dbytes)
            VALUES (NEW.version, NEW.nsid, NEW.key, extract(epoch FROM clock_timestamp()),
                    1, NEW.size);
    ELSE
        INSERT INTO {s}.changes (seq, nsid, key, at, dkeys, dbytes)
            VALUES (NEW.version, NEW.nsid, NEW.key, extract(epoch FROM clock_timestamp()),
                    0, NEW.size - OLD.size);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.blob_id IS NOT NULL
            AND OLD.blob_id IS DISTINCT FROM NEW.blob_id THEN
        DELETE FROM {s}.blob_chunks WHERE blob_id = OLD.blob_id;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION {s}.entries_drop_blob() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {s}.blob_chunks WHERE blob_id = OLD.blob_id;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION {s}.changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify({channel}, '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS entries_feed ON {s}.entries;
CREATE TRIGGER entries_feed AFTER INSERT OR UPDATE OF version ON {s}.entries
    FOR EACH ROW EXECUTE FUNCTION {s}.entries_feed();
DROP TRIGGER IF EXISTS entries_drop_blob ON {s}.entries;
CREATE TRIGGER entries_drop_blob AFTER DELETE ON {s}.entries
    FOR EACH ROW WHEN (OLD.blob_id IS NOT NULL) EXECUTE FUNCTION {s}.entries_drop_blob();
DROP TRIGGER IF EXISTS changes_notify ON {s}.changes;
CREATE TRIGGER changes_notify AFTER INSERT ON {s}.changes
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.changes_notify();
INSERT INTO {s}.meta VALUES ('schema_version', '{version}')
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
"""

# Run once when the DDL upgrades a schema of version 1 (before sizes and totals were kept):
# each entry's size, its last write where the feed still holds it, every namespace's totals,
# and the fold's starting point, under the feed's lock so no write commits meanwhile below it.
BACKFILL = """
SELECT pg_advisory_xact_lock({lock_class}, {feed_lock});
UPDATE {s}.entries SET
    size = COALESCE(octet_length(value),
        (SELECT sum(octet_length(data)) FROM {s}.blob_chunks c WHERE c.blob_id = entries.blob_id),
        0),
    written_at = (SELECT c.at::bigint FROM {s}.changes c WHERE c.seq = entries.version);
UPDATE {s}.namespaces SET
    stored_keys = (SELECT count(*) FROM {s}.entries e WHERE e.nsid = namespaces.nsid),
    stored_bytes = (SELECT COALESCE(sum(size), 0) FROM {s}.entries e
        WHERE e.nsid = namespaces.nsid);
UPDATE {s}.feed_state SET folded_through = (SELECT COALESCE(max(seq), 0) FROM {s}.changes);
"""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def lock_key(schema: str) -> int:
    """The advisory lock of one store's feed (second half of the two-int key)."""
    return zlib.crc32(schema.encode()) - (1 << 31)  # an int4


@dataclass(frozen=True)
class Statements:
    """Every statement of a store whose tables live in `schema`."""

    schema: str

    @property
    def channel(self) -> str:
        return f"edgekv_{self.schema}"[:63]

    def format(self, text: str) -> str:
        return text.replace("{s}", quote_ident(self.schema))

    @property
    def ddl(self) -> str:
        return (
            self.format(DDL)
            .replace("{channel}", quote_literal(self.channel))
            .replace("{version}", str(SCHEMA_VERSION))
        )

    @property
    def backfill(self) -> str:
        return (
            self.format(BACKFILL)
            .replace("{lock_class}", str(LOCK_CLASS))
            .replace("{feed_lock}", str(lock_key(self.schema)))
        )

    @property
    def usage_lock(self) -> str:
        """Taken by folds and sweeps, which update several namespaces' totals."""
        return f"SELECT pg_advisory_xact_lock({LOCK_CLASS}, {lock_key(self.schema) ^ 2})"

    @property
    def _lock(self) -> str:
        return f"pg_advisory_xact_lock_shared({LOCK_CLASS}, {lock_key(self.schema)})"

    @property
    def migrate_lock(self) -> str:
        return f"SELECT pg_advisory_xact_lock({LOCK_CLASS}, {lock_key(self.schema) ^ 1})"

    @property
    def write_lock(self) -> str:
        """Taken first by every write transaction that draws versions."""
        return f"SELECT {self._lock}"

    @property
    def feed_lock(self) -> str:
        return f"SELECT pg_advisory_xact_lock({LOCK_CLASS}, {lock_key(self.schema)})"

    # One statement is one transaction: the shared lock comes from a CTE that the row source
    # scans, so it is held before nextval() runs, and until the statement commits.
    def upsert(self, only_if_absent: bool) -> str:
        sql = (
            f"WITH l AS MATERIALIZED (SELECT {self._lock})"
            " INSERT INTO {s}.entries AS e"
            " (nsid, key, value, blob_id, metadata, expiration, size, written_at, version)"
            " SELECT %s, %s, %b, %s, %s, %s, %s, %s, nextval('{s}.versions') FROM l"
            " ON CONFLICT (nsid, key) DO UPDATE SET value = excluded.value,"
            " blob_id = excluded.blob_id, metadata = excluded.metadata,"
            " expiration = excluded.expiration, size = excluded.size,"
            " written_at = excluded.written_at, version = nextval('{s}.versions')"
        )
        if only_if_absent:
            sql += " WHERE e.expiration IS NOT NULL AND e.expiration <= %s"
        return self.format(sql + " RETURNING e.version")

    @property
    def update_if_version(self) -> str:
        return self.format(
            f"WITH l AS MATERIALIZED (SELECT {self._lock})"
            " UPDATE {s}.entries AS e SET value = %b, blob_id = %s, metadata = %s,"
            " expiration = %s, size = %s, written_at = %s, version = nextval('{s}.versions')"
            " FROM l"
            " WHERE e.nsid = %s AND e.key = %s AND e.version = %s"
            " AND (e.expiration IS NULL OR e.expiration > %s) RETURNING e.version"
        )

    @property
    def upsert_many(self) -> str:
        # One statement, one round trip: the lock as in `upsert` (a transaction around a
        # separate lock statement cost three more round trips per group commit).
        return self.format(
            f"WITH l AS MATERIALIZED (SELECT {self._lock})"
            " INSERT INTO {s}.entries AS e"
            " (nsid, key, value, blob_id, metadata, expiration, size, written_at, version)"
            " SELECT %s, k, v, NULL, m, x, octet_length(v), %s, nextval('{s}.versions')"
            " FROM l, unnest(%s::bytea[], %b::bytea[], %s::text[], %s::bigint[])"
            " AS t(k, v, m, x) ORDER BY k"
            " ON CONFLICT (nsid, key) DO UPDATE SET value = excluded.value,"
            " blob_id = NULL, metadata = excluded.metadata,"
            " expiration = excluded.expiration, size = excluded.size,"
            " written_at = excluded.written_at, version = nextval('{s}.versions')"
            " RETURNING e.key, e.version"
        )

    # A counter is the decimal text of a 64-bit integer: `encode(..., 'escape')` turns any
    # non-ASCII byte into a backslash sequence, so only plain digits match. An expired entry
    # counts as absent. A non-integer makes the statement return no row; an overflow raises.
    @property
    def incr(self) -> str:
        expired = "(e.expiration IS NOT NULL AND e.expiration <= %(now)s)"
        current = "convert_from(e.value, 'UTF8')::bigint"
        total = (
            f"(CASE WHEN {expired} THEN %(by)s::bigint ELSE {current} + %(by)s::bigint END)::text"
        )
        return self.format(
            f"WITH l AS MATERIALIZED (SELECT {self._lock})"
            " INSERT INTO {s}.entries AS e"
            " (nsid, key, value, blob_id, metadata, expiration, size, written_at, version)"
            " SELECT %(nsid)s, %(key)s, convert_to(%(by)s::bigint::text, 'UTF8'), NULL, NULL,"
            " %(exp)s, octet_length(%(by)s::bigint::text), %(written)s,"
            " nextval('{s}.versions') FROM l"
            " ON CONFLICT (nsid, key) DO UPDATE SET blob_id = NULL,"
            f" value = convert_to({total}, 'UTF8'), size = octet_length({total}),"
            " written_at = %(written)s,"
            f" metadata = CASE WHEN {expired} THEN NULL ELSE e.metadata END,"
            f" expiration = CASE WHEN %(exp)s::bigint IS NOT NULL THEN %(exp)s::bigint"
            f" WHEN {expired} THEN NULL ELSE e.expiration END,"
            " version = nextval('{s}.versions')"
            f" WHERE {expired} OR (e.blob_id IS NULL AND length(e.value) <= 20"
            " AND encode(e.value, 'escape') ~ '^(0|-?[1-9][0-9]*)$')"
            " RETURNING convert_from(e.value, 'UTF8')"
        )

    @property
    def delete_many(self) -> str:
        # Runs after write_lock: the feed entry of a delete draws its own version.
        return self.format(
            "WITH d AS (DELETE FROM {s}.entries WHERE nsid = %s AND key = ANY(%s)"
            " RETURNING key, size)"
            " INSERT INTO {s}.changes (seq, nsid, key, at, dkeys, dbytes)"
            " SELECT nextval('{s}.versions'), %s, key, extract(epoch FROM clock_timestamp()),"
            " -1, -size FROM d"
        )

    @property
    def feed_append(self) -> str:
        return self.format(
            "INSERT INTO {s}.changes (seq, nsid, key, at)"
            " VALUES (nextval('{s}.versions'), %s, NULL, extract(epoch FROM clock_timestamp()))"
        )

    _LIVE = "(expiration IS NULL OR expiration > %s)"

    @property
    def get(self) -> str:
        return self.format(
            "SELECT value, metadata, expiration, version, blob_id, written_at FROM {s}.entries"
            f" WHERE nsid = %s AND key = %s AND {self._LIVE}"
        )

    @property
    def get_value(self) -> str:
        return self.format(
            f"SELECT value, blob_id FROM {{s}}.entries WHERE nsid = %s AND key = %s AND {self._LIVE}"
        )

    @property
    def get_many(self) -> str:
        return self.format(
            "SELECT key, value, metadata, expiration, version, blob_id, written_at"
            f" FROM {{s}}.entries WHERE nsid = %s AND key = ANY(%s) AND {self._LIVE}"
        )

    @property
    def blob_whole(self) -> str:
        return self.format(
            "SELECT string_agg(data, ''::bytea ORDER BY n) FROM {s}.blob_chunks WHERE blob_id = %s"
        )

    @property
    def blob_chunk(self) -> str:
        return self.format("SELECT data FROM {s}.blob_chunks WHERE blob_id = %s AND n = %s")

    @property
    def new_blob(self) -> str:
        return self.format("SELECT nextval('{s}.blob_ids')")

    @property
    def put_chunk(self) -> str:
        return self.format("INSERT INTO {s}.blob_chunks (blob_id, n, data) VALUES (%s, %s, %b)")

    def list_keys(self, lower_inclusive: bool, has_upper: bool) -> str:
        sql = "SELECT key, expiration, metadata, size, written_at FROM {s}.entries WHERE nsid = %s"
        sql += " AND key >= %s" if lower_inclusive else " AND key > %s"
        if has_upper:
            sql += " AND key < %s"
        return self.format(sql + f" AND {self._LIVE} ORDER BY key LIMIT %s")

    @property
    def changes(self) -> str:
        return self.format(
            "SELECT c.seq, n.id, c.key, c.at FROM {s}.changes c"
            " JOIN {s}.namespaces n ON n.nsid = c.nsid"
            " WHERE c.seq > %s ORDER BY c.seq LIMIT %s"
        )

    @property
    def feed_bounds(self) -> str:
        return self.format(
            "SELECT (SELECT purged_through FROM {s}.feed_state),"
            " COALESCE((SELECT max(seq) FROM {s}.changes), 0)"
        )

    @property
    def last_seq(self) -> str:
        return self.format("SELECT COALESCE((SELECT max(seq) FROM {s}.changes), 0)")

    @property
    def purge_expired(self) -> str:
        """Deletes a slice of expired entries and takes them out of their namespaces' totals;
        returns how many (run after usage_lock)."""
        return self.format(
            "WITH d AS (DELETE FROM {s}.entries WHERE (nsid, key) IN (SELECT nsid, key"
            " FROM {s}.entries WHERE expiration <= %s LIMIT %s) RETURNING nsid, size),"
            " t AS (SELECT nsid, count(*) AS k, sum(size) AS b FROM d GROUP BY nsid),"
            " u AS (UPDATE {s}.namespaces n SET stored_keys = n.stored_keys - t.k,"
            " stored_bytes = n.stored_bytes - t.b FROM t WHERE n.nsid = t.nsid)"
            " SELECT count(*) FROM d"
        )

    @property
    def fold(self) -> str:
        """Folds every change up to the newest into the totals (run after usage_lock and
        feed_lock, so none below it can still commit)."""
        return self.format(
            "WITH m AS (SELECT COALESCE(max(seq), 0) AS top FROM {s}.changes),"
            " d AS (SELECT c.nsid, sum(c.dkeys) AS k, sum(c.dbytes) AS b FROM {s}.changes c, m"
            " WHERE c.seq > (SELECT folded_through FROM {s}.feed_state) AND c.seq <= m.top"
            " GROUP BY c.nsid),"
            " u AS (UPDATE {s}.namespaces n SET stored_keys = n.stored_keys + d.k,"
            " stored_bytes = n.stored_bytes + d.b FROM d WHERE n.nsid = d.nsid)"
            " UPDATE {s}.feed_state SET folded_through = m.top FROM m"
        )

    @property
    def namespace_usage(self) -> str:
        return self.format(
            "SELECT n.stored_keys + COALESCE(sum(c.dkeys), 0),"
            " n.stored_bytes + COALESCE(sum(c.dbytes), 0)"
            " FROM {s}.namespaces n LEFT JOIN {s}.changes c ON c.nsid = n.nsid"
            " AND c.seq > (SELECT folded_through FROM {s}.feed_state)"
            " WHERE n.id = %s AND n.deleted_at IS NULL"
            " GROUP BY n.nsid, n.stored_keys, n.stored_bytes"
        )

    # The newest change is never purged, so max(seq) only grows; purged_through tells a reader
    # whose position is older that it fell behind the feed's retention.
    @property
    def purge_changes(self) -> str:
        return self.format(
            "WITH d AS (DELETE FROM {s}.changes WHERE seq IN (SELECT seq FROM {s}.changes"
            " WHERE at < %s AND seq < (SELECT max(seq) FROM {s}.changes)"
            " AND seq <= (SELECT folded_through FROM {s}.feed_state) ORDER BY seq LIMIT %s)"
            " RETURNING seq),"
            " u AS (UPDATE {s}.feed_state SET purged_through = GREATEST(purged_through,"
            " (SELECT max(seq) FROM d)) WHERE EXISTS (SELECT 1 FROM d))"
            " SELECT count(*) FROM d"
        )

    @property
    def purge_namespaces(self) -> str:
        return self.format(
            "DELETE FROM {s}.namespaces WHERE deleted_at IS NOT NULL AND deleted_at < %s"
            " AND NOT EXISTS (SELECT 1 FROM {s}.changes c WHERE c.nsid = namespaces.nsid)"
        )
