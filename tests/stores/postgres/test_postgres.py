"""What the PostgreSQL store promises beyond the conformance suite."""

from __future__ import annotations

import asyncio
import random
import uuid

import psycopg

import edgekv
from edgekv.model import EntryWrite
from edgekv.stores._async.urls import store_from_url
from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore
from tests.clock import FakeClock
from tests.stores.backends import POSTGRES_SCHEMA, POSTGRES_URL, postgres_url


async def test_a_fresh_schema_is_created_on_first_use_and_a_write_is_committed() -> None:
    schema = f"{POSTGRES_SCHEMA}_fresh_{uuid.uuid4().hex[:6]}"
    clock = FakeClock()
    kv = edgekv.AsyncKV(store_from_url(postgres_url(schema), clock=clock), clock=clock)
    try:
        ns = await kv.create_namespace("fresh")
        version = await ns.put("k", b"\x00\xff value")
        # Another connection, outside the store's pool, sees the write as soon as put returns.
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            row = conn.execute(
                f'SELECT value, version FROM "{schema}".entries WHERE key = %s', (b"k",)
            ).fetchone()
        assert row == (b"\x00\xff value", version)
    finally:
        await kv.aclose()


async def test_a_feed_purged_past_a_position_says_it_is_behind() -> None:
    clock = FakeClock()
    # A schema of its own: the purge is bounded, and a shared feed holds other tests' changes.
    schema = f"{POSTGRES_SCHEMA}_purge_{uuid.uuid4().hex[:6]}"
    store = AsyncPostgresStore(postgres_url(schema), clock=clock, feed_retention=0)
    kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
    try:
        ns = await kv.create_namespace("purged")
        old = await store.feed_position()
        for i in range(3):
            await ns.put(f"k{i}", "v")
        await store.purge_expired()
        assert (await store.changes(old)).behind
        assert not (await store.changes(await store.feed_position())).behind
    finally:
        await store.aclose()


async def test_concurrent_transactions_writing_the_same_keys_keep_versions_in_apply_order() -> None:
    # Group commits of several edges and bulk writes of other clients, side by side, write
    # overlapping keys in any order: none deadlocks (each statement locks its rows in key
    # order), and each key ends with the value of the write that got its highest version.
    clock = FakeClock()
    stores = [AsyncPostgresStore(postgres_url(), clock=clock) for _ in range(2)]
    kv = edgekv.AsyncKV(stores[0], clock=clock, account_id=uuid.uuid4().hex)
    try:
        ns = await kv.create_namespace("side-by-side")
        keys = [f"k{i}" for i in range(12)]
        rng = random.Random(7)
        calls = []
        for n in range(40):
            chosen = rng.sample(keys, 6)
            writes = [EntryWrite(k, f"{n}:{k}".encode(), None, None, 0) for k in chosen]
            calls.append((writes, stores[n % 2].put_many(ns.id, writes)))
        results = await asyncio.gather(*(call for _, call in calls))
        highest: dict[str, tuple[int, bytes]] = {}
        for (writes, _), versions in zip(calls, results, strict=True):
            for write, version in zip(writes, versions, strict=True):
                assert isinstance(write.value, bytes)
                if version > highest.get(write.key, (0, b""))[0]:
                    highest[write.key] = (version, write.value)
        for key, (version, value) in highest.items():
            stored = await stores[1].get(ns.id, key)
            assert stored is not None
            assert (stored.version, stored.value) == (version, value)
    finally:
        for store in stores:
            await store.aclose()


async def test_a_version_1_schema_is_upgraded_with_sizes_and_totals() -> None:
    schema = f"{POSTGRES_SCHEMA}_v1_{uuid.uuid4().hex[:6]}"
    store = AsyncPostgresStore(postgres_url(schema))
    ns = await edgekv.AsyncKV(store).create_namespace("old")
    await store.aclose()
    # Back to the schema of version 1 (before sizes and totals), holding entries it wrote.
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        s = f'"{schema}"'
        conn.execute(
            f"""
            ALTER TABLE {s}.entries DROP COLUMN size, DROP COLUMN written_at;
            ALTER TABLE {s}.changes DROP COLUMN dkeys, DROP COLUMN dbytes;
            ALTER TABLE {s}.namespaces DROP COLUMN stored_keys, DROP COLUMN stored_bytes;
            ALTER TABLE {s}.feed_state DROP COLUMN folded_through;
            CREATE OR REPLACE FUNCTION {s}.entries_feed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {s}.changes (seq, nsid, key, at) VALUES (NEW.version, NEW.nsid,
                    NEW.key, 1700000000);
                RETURN NULL;
            END $$;
            UPDATE {s}.meta SET value = '1' WHERE name = 'schema_version';
            """
        )
        nsid = conn.execute(f"SELECT nsid FROM {s}.namespaces").fetchone()[0]  # type: ignore[index]
        conn.execute(
            f"INSERT INTO {s}.blob_chunks VALUES (9, 0, %s), (9, 1, %s)", (b"x" * 10, b"y")
        )
        for key, value, blob in [(b"small", b"12345", None), (b"big", None, 9), (b"e", b"", None)]:
            conn.execute(
                f"INSERT INTO {s}.entries (nsid, key, value, blob_id, version)"
                f" VALUES (%s, %s, %s, %s, nextval('{s}.versions'))",
                (nsid, key, value, blob),
            )
    store = AsyncPostgresStore(postgres_url(schema))
    try:
        usage = await store.namespace_usage(ns.id)
        assert (usage.keys, usage.bytes) == (3, 16)
        page = await store.list_keys(ns.id, "", 10, None)
        assert {k.name: (k.size, k.written_at) for k in page.keys} == {
            "big": (11, 1700000000),
            "e": (0, 1700000000),
            "small": (5, 1700000000),
        }
        kv_ns = await edgekv.AsyncKV(store).namespace(ns.id)
        await kv_ns.put("small", "1")
        await kv_ns.delete("big")
        await store.purge_expired()  # folds: the same figures
        usage = await store.namespace_usage(ns.id)
        assert (usage.keys, usage.bytes) == (2, 1)
    finally:
        await store.aclose()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
