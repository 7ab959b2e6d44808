"""What the PostgreSQL store promises beyond the conformance suite."""

from __future__ import annotations

import uuid

import psycopg

import edgekv
from edgekv._async.postgres import AsyncPostgresStore
from edgekv._async.urls import store_from_url
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
