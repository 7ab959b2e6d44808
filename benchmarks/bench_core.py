"""Issue 2 figures: the embedded store against diskcache and bare sqlite3, same data, same run.

10,000 keys with 100-byte values. Anchors: diskcache 5.6 `Cache.get`/`Cache.set`, and the floor:
a bare sqlite3 point select / upsert in autocommit WAL with synchronous=NORMAL.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time

import diskcache

import edgekv
from benchmarks.harness import interleaved, report, report_absolute

KEYS = [f"tenant:{i % 97}:key:{i:06d}" for i in range(10_000)]
VALUE = "v" * 100
LIST_KEYS = int(os.environ.get("EDGEKV_BENCH_LIST_KEYS", "1000000"))


def bare_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB)")
    return conn


def main() -> bool:
    tmp = tempfile.mkdtemp(prefix="edgekv-bench-")
    ok = True
    loop = asyncio.new_event_loop()

    # anchors
    dc = diskcache.Cache(os.path.join(tmp, "diskcache"))
    bare = bare_sqlite(os.path.join(tmp, "bare.db"))
    select = "SELECT value FROM kv WHERE key = ?"
    upsert = "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    value_bytes = VALUE.encode()
    for k in KEYS:
        dc.set(k, VALUE)
        bare.execute(upsert, (k, value_bytes))

    # subjects: the async and sync API over one file
    sync_kv = edgekv.KV(f"sqlite:///{tmp}/edgekv.db")
    sync_ns = sync_kv.create_namespace("BENCH")
    async_kv = edgekv.AsyncKV(f"sqlite:///{tmp}/edgekv.db")
    async_ns = loop.run_until_complete(async_kv.namespace("BENCH"))
    for k in KEYS:
        sync_ns.put(k, VALUE)

    def dc_get() -> None:
        for k in KEYS:
            dc.get(k)

    def dc_set() -> None:
        for k in KEYS:
            dc.set(k, VALUE)

    def bare_select() -> None:
        for k in KEYS:
            bare.execute(select, (k,)).fetchone()

    def bare_upsert() -> None:
        for k in KEYS:
            bare.execute(upsert, (k, value_bytes))

    def sync_get() -> None:
        for k in KEYS:
            sync_ns.get(k)

    async def _async_get() -> None:
        for k in KEYS:
            await async_ns.get(k)

    async def _async_put() -> None:
        for k in KEYS:
            await async_ns.put(k, VALUE, expiration_ttl=300)

    def async_get() -> None:
        loop.run_until_complete(_async_get())

    def async_put() -> None:
        loop.run_until_complete(_async_put())

    n = len(KEYS)
    reads = interleaved(
        {
            "diskcache get": dc_get,
            "bare select": bare_select,
            "sync get": sync_get,
            "async get": async_get,
        },
        n,
    )
    ok &= report(
        "await ns.get(key) hit",
        reads["async get"],
        [(reads["diskcache get"], 0.8), (reads["bare select"], 1.6)],
    )
    ok &= report("ns.get(key) hit, sync", reads["sync get"], [(reads["diskcache get"], 0.8)])

    writes = interleaved(
        {"diskcache set": dc_set, "bare upsert": bare_upsert, "async put": async_put}, n, rounds=5
    )
    ok &= report(
        "await ns.put(key, value, expiration_ttl=300)",
        writes["async put"],
        [(writes["diskcache set"], 0.3)],
    )
    print(
        f"  (bare upsert floor: {writes['bare upsert'].us:.2f} us; put is "
        f"{writes['async put'].seconds / writes['bare upsert'].seconds:.2f} x it: a put also "
        "appends its change-feed entry in the same transaction)"
    )

    # bulk write of 10,000 pairs, against a bare executemany of the same rows
    pairs = [{"key": k, "value": VALUE} for k in KEYS]
    bulk = interleaved(
        {
            "bare executemany": lambda: (
                bare.execute("BEGIN"),
                bare.executemany(upsert, [(k, value_bytes) for k in KEYS]),
                bare.execute("COMMIT"),
            ),
            "bulk put": lambda: sync_ns.bulk_put(pairs),
        },
        1,
        rounds=5,
    )
    ok &= report_absolute("bulk write of 10,000 pairs", bulk["bulk put"], 500.0)
    print(
        f"  ({bulk['bulk put'].seconds / bulk['bare executemany'].seconds:.2f} x a bare "
        f"executemany of the same rows, {bulk['bare executemany'].seconds * 1e3:.1f} ms)"
    )

    # list(prefix, limit=1000) from a namespace of LIST_KEYS keys
    big = sync_kv.create_namespace("BIG")
    batch: list[dict[str, str]] = []
    for i in range(LIST_KEYS):
        batch.append({"key": f"user:{i:08d}", "value": "x"})
        if len(batch) == 10_000:
            big.bulk_put(batch)
            batch = []
    if batch:
        big.bulk_put(batch)
    starts = [f"user:{i:04d}" for i in range(max(1, LIST_KEYS // 10_000))]
    bare.execute("CREATE TABLE big (key TEXT PRIMARY KEY, value BLOB)")
    bare.execute("BEGIN")
    bare.executemany(
        "INSERT INTO big VALUES (?, 'x')", ((f"user:{i:08d}",) for i in range(LIST_KEYS))
    )
    bare.execute("COMMIT")

    def list_pages() -> None:
        for p in starts:
            big.list(prefix=p, limit=1000)

    def bare_range() -> None:
        for p in starts:
            bare.execute(
                "SELECT key FROM big WHERE key >= ? AND key < ? ORDER BY key LIMIT 1000",
                (p, p + "\uffff"),
            ).fetchall()

    pages = interleaved(
        {"bare range select": bare_range, "list page": list_pages}, len(starts), rounds=5
    )
    ok &= report_absolute(
        f"list(prefix, limit=1000) from {LIST_KEYS:,} keys", pages["list page"], 15.0
    )
    print(
        f"  ({pages['list page'].seconds / pages['bare range select'].seconds:.2f} x a bare "
        f"range select of 1000 keys, {pages['bare range select'].seconds * 1e3:.2f} ms)"
    )

    loop.close()
    return ok


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
