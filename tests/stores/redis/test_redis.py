"""What the Redis store promises beyond the conformance suite: a namespace spread over the
cluster's masters, byte-ordered lists merged across buckets, expiry never shown."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
import uvloop

import edgekv
from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.stores.redis import scripts as redis_scripts
from edgekv.stores.redis._async.redis_store import AsyncRedisStore
from tests.clock import FakeClock
from tests.stores.backends import (
    REDIS_PREFIX,
    REDIS_URL,
    redis_cluster_handle,
    redis_cluster_url,
    redis_url,
)


async def _namespace(url: str, clock: FakeClock) -> tuple[AsyncRedisStore, edgekv.AsyncNamespace]:
    store = AsyncRedisStore(url, clock=clock)
    kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
    return store, await kv.create_namespace("spread")


async def test_one_namespace_spreads_over_the_masters_of_a_cluster() -> None:
    clock = FakeClock()
    store, ns = await _namespace(redis_cluster_url(), clock)
    try:
        await ns.bulk_put([{"key": f"user:{i}", "value": "v"} for i in range(200)])
        cluster = redis_cluster_handle()
        holding = {}
        for port in cluster.ports:
            node = redis.Redis(host="127.0.0.1", port=port)
            pattern = "{" + REDIS_PREFIX + ":*}:e:" + ns.id + ":*"
            holding[port] = sum(1 for _ in node.scan_iter(match=pattern, count=1000))
            node.close()
        assert sum(holding.values()) == 200
        assert sum(1 for n in holding.values() if n > 0) >= 2, holding
        listed = await ns.list()
        assert [k.name for k in listed.keys] == sorted(
            (f"user:{i}" for i in range(200)), key=str.encode
        )
    finally:
        await store.aclose()


async def test_list_keeps_byte_order_and_cursors_across_buckets_while_inserting() -> None:
    clock = FakeClock()
    store, ns = await _namespace(redis_cluster_url(), clock)
    try:
        first = [f"k{i:03d}{s}" for i in range(120) for s in ("", "é", "😀")]
        await ns.bulk_put([{"key": k, "value": "v"} for k in first])
        seen: list[str] = []
        cursor = None
        added_behind, added_ahead = [], []
        while True:
            page = await ns.list(limit=17, cursor=cursor)
            seen += [k.name for k in page.keys]
            if page.list_complete:
                break
            cursor = page.cursor
            last = seen[-1]
            # One key behind the cursor (never shown), one far ahead (shown when reached).
            behind, ahead = last[:3] + "!", "z" + last
            await ns.put(behind, "v")
            await ns.put(ahead, "v")
            added_behind.append(behind)
            added_ahead.append(ahead)
        assert seen == sorted(seen, key=str.encode)
        assert len(seen) == len(set(seen))
        assert set(first) <= set(seen)
        assert set(added_ahead) <= set(seen)
        assert not (set(added_behind) - set(first)) & set(seen)
    finally:
        await store.aclose()


async def test_an_expired_key_is_never_shown_before_redis_reclaims_it() -> None:
    clock = FakeClock()
    store, ns = await _namespace(redis_url(), clock)
    try:
        await ns.put("short", "v", expiration_ttl=60, metadata={"m": 1})
        await ns.put("long", "v")
        clock.advance(60)
        # The entry is still in Redis (its server-side TTL counts real seconds, plus grace)...
        b = redis_scripts.bucket_of("short", store.buckets)
        assert await store.client.exists(store.keys.entry(b, ns.id, "short"))
        # ...and invisible to every read.
        assert await ns.get("short") is None
        assert (await ns.get_with_metadata("short")).value is None
        assert await ns.get(["short", "long"]) == {"short": None, "long": "v"}
        assert [k.name for k in (await ns.list()).keys] == ["long"]
        assert await ns.get("short", "stream") is None
        assert await ns.put("short", "again", only_if_absent=True)
    finally:
        await store.aclose()


async def test_a_feed_trimmed_past_a_position_says_it_is_behind() -> None:
    clock = FakeClock()
    store = AsyncRedisStore(redis_url(), clock=clock, buckets=16, feed_retention=1e-6)
    kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
    try:
        ns = await kv.create_namespace("trimmed")
        old = await store.feed_position()
        # Every write script trims what is older than the retention (here a microsecond), so
        # the second bulk write trims the first's feed entries, which came after `old`.
        await ns.bulk_put([{"key": f"k{i}", "value": "v"} for i in range(100)])
        await ns.bulk_put([{"key": f"k{i}", "value": "w"} for i in range(100)])
        assert (await store.changes(old)).behind
        assert not (await store.changes(await store.feed_position())).behind
    finally:
        await store.aclose()


async def test_a_reader_can_leave_out_the_changes_of_its_own_writes() -> None:
    # An edge has applied its own writes already: it reads the feed without them, and the
    # page says how many it read past. A change of a whole namespace is never left out.
    clock = FakeClock()
    store, ns = await _namespace(redis_cluster_url(), clock)
    other = AsyncRedisStore(redis_cluster_url(), clock=clock)
    try:
        start = await store.feed_position()
        await ns.bulk_put([{"key": f"mine:{i}", "value": "v"} for i in range(40)])
        await other.put(ns.id, EntryWrite("theirs", b"v", None, None, 1))
        await ns.delete("mine:0")
        await ns.put("mine:1", "w")
        assert await other.incr(ns.id, "counter", 1, None) == 1

        page = await store.changes(start, exclude_own=True)
        assert [c.key for c in page.changes] == ["theirs", "counter"]
        assert page.left_out == 42  # 40 puts, a delete, a put
        after = await store.changes(page.position, exclude_own=True)
        assert (after.changes, after.left_out) == ([], 0)  # read past, not again

        everything = await store.changes(start)
        assert len(everything.changes) == 44 and everything.left_out == 0
        theirs = await other.changes(start, exclude_own=True)
        assert [c.key for c in theirs.changes] == [
            c.key for c in everything.changes if c.key not in ("theirs", "counter")
        ]

        await store.delete_namespace(ns.id)
        last = await store.changes(page.position, exclude_own=True)
        assert [(c.namespace_id, c.key) for c in last.changes] == [(ns.id, None)]
    finally:
        await other.aclose()
        await store.aclose()


async def test_retention_trims_by_the_oldest_stamp_kept_in_the_stamp_hash() -> None:
    # A write looks at the stream only when the oldest entry (field o of the bucket's stamp
    # hash) is past the horizon. The field is never newer than the stream's oldest entry (ids
    # only grow); one older (the stream removed behind its back) heals when it comes due.
    clock = FakeClock()
    prefix = f"{REDIS_PREFIX}-{uuid.uuid4().hex[:8]}"  # its own bucket count: one
    store = AsyncRedisStore(redis_url(), prefix=prefix, clock=clock, buckets=1, feed_retention=0.2)
    kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
    try:
        ns = await kv.create_namespace("retained")
        old = await store.feed_position()
        for i in range(5):
            await ns.put(f"k{i}", "v")
        feed = store.keys.feed(0)
        assert await store.client.xlen(feed) >= 5
        await asyncio.sleep(0.3)  # the master's clock decides what is past retention
        await ns.put("late", "v")
        assert await store.client.xlen(feed) == 1
        assert (await store.changes(old)).behind
        oldest = int((await store.client.xrange(feed, count=1))[0][0].split(b"-")[0])
        assert int(await store.client.hget(store.keys.stamp(0), "o")) == oldest
        await store.client.delete(feed)
        await ns.put("after", "v")
        await asyncio.sleep(0.3)
        await ns.put("later", "v")
        here = await store.client.xrange(feed)
        assert [fields[b"k"] for _, fields in here] == [b"later"]
        assert int(await store.client.hget(store.keys.stamp(0), "o")) == int(
            here[0][0].split(b"-")[0]
        )
    finally:
        await store.aclose()


async def test_writes_publish_only_while_a_reader_waits() -> None:
    clock = FakeClock()
    store, ns = await _namespace(redis_url(), clock)
    listener = store._signals.pubsub(ignore_subscribe_messages=True)
    try:
        await listener.subscribe(store.keys.channel)

        async def messages() -> int:
            n = 0
            while await listener.get_message(timeout=0.2) is not None:
                n += 1
            return n

        await messages()
        for i in range(5):
            await ns.put(f"quiet{i}", "v")
        assert await messages() == 0  # nobody waited: no signal
        position = await store.feed_position()
        waiting = asyncio.create_task(store.wait_for_changes(position, 30))
        await asyncio.sleep(0.2)
        await ns.put("woken", "v")
        assert await asyncio.wait_for(waiting, 5) is True  # signalled, not timed out
        assert await messages() == 1
        # The signalling write cleared its bucket's mark: the next write there is quiet.
        b = redis_scripts.bucket_of("woken", store.buckets)
        same = next(
            k
            for k in (f"k{i}" for i in range(1000))
            if redis_scripts.bucket_of(k, store.buckets) == b
        )
        await ns.put(same, "v")
        assert await messages() == 0
    finally:
        await listener.aclose()
        await store.aclose()


async def test_a_write_signals_waiters_on_the_node_they_subscribe_on() -> None:
    # On a cluster, a publish on another master would reach the waiters over the cluster
    # bus (now and then 40 ms late): the writing client publishes on the waiters' node.
    clock = FakeClock()
    store, ns = await _namespace(redis_cluster_url(), clock)
    waiter = AsyncRedisStore(redis_cluster_url(), clock=clock)
    try:
        home = store._signals.connection_pool.connection_kwargs["port"]
        buckets = await store._ready()
        key = next(
            k
            for k in (f"k{i}" for i in range(1000))
            if store._node_of(redis_scripts.bucket_of(k, buckets)).port != home
        )

        def publishes() -> dict[int, int]:
            counts = {}
            for port in redis_cluster_handle().ports:
                node = redis.Redis(host="127.0.0.1", port=port)
                stats = node.info("commandstats").get("cmdstat_publish", {"calls": 0})
                counts[port] = int(stats["calls"])
                node.close()
            return counts

        position = await waiter.feed_position()
        waiting = asyncio.create_task(waiter.wait_for_changes(position, 30))
        await asyncio.sleep(0.3)
        before = publishes()
        await ns.put(key, "v")
        assert await asyncio.wait_for(waiting, 5) is True
        after = publishes()
        assert {p: after[p] - before[p] for p in after if after[p] != before[p]} == {home: 1}
    finally:
        await waiter.aclose()
        await store.aclose()


def test_a_signal_that_cannot_be_sent_does_not_fail_the_write() -> None:
    # On a cluster the signal goes out on a client of its own (the waiters' node). A torn
    # connection there fails the signal, not the put. Under uvloop, as the server runs: there
    # a write to a closed transport raises RuntimeError (asyncio's own loop only logs it).
    async def scenario() -> None:
        clock = FakeClock()
        store, ns = await _namespace(redis_cluster_url(), clock)
        waiter = AsyncRedisStore(redis_cluster_url(), clock=clock)
        try:
            await store._signals.publish(store.keys.channel, "")  # a pooled connection
            for connection in store._signals.connection_pool._available_connections:
                connection._writer.transport.close()  # as redis-py does to a failed node's
            position = await waiter.feed_position()
            waiting = asyncio.create_task(waiter.wait_for_changes(position, 1))
            await asyncio.sleep(0.3)
            assert isinstance(await ns.put("k", "v"), int)  # written, though not signalled
            await waiting  # woken by a signal or by its timeout: either way, it returns
            assert await ns.get("k") == "v"
            await ns.put("k2", "v")  # the next signal goes out on a new connection
        finally:
            await waiter.aclose()
            await store.aclose()

    uvloop.run(scenario())


async def test_writes_to_a_namespace_deleted_elsewhere_are_refused() -> None:
    clock = FakeClock()
    one, ns = await _namespace(redis_url(), clock)
    other = AsyncRedisStore(redis_url(), clock=clock)
    try:
        await ns.put("k", "v")
        await other.delete_namespace(ns.id)
        # `one` still believes the namespace exists; the bucket's tombstone refuses the write.
        with pytest.raises(edgekv.errors.NamespaceNotFound):
            await ns.put("k", "again")
    finally:
        await one.aclose()
        await other.aclose()


def test_cluster_url_credentials_reach_every_client() -> None:
    # The cluster client is built from startup nodes, not from the URL: the user and password
    # must be passed on, percent-decoded, to it and to the push-signal client.
    from edgekv.stores.redis._async.redis_store import AsyncRedisStore

    store = AsyncRedisStore("redis+cluster://ann:p%40ss@127.0.0.1:7000,127.0.0.1:7001?prefix=x")
    assert store.client.connection_kwargs["username"] == "ann"
    assert store.client.connection_kwargs["password"] == "p@ss"
    assert store._signals.connection_pool.connection_kwargs["password"] == "p@ss"


async def test_puts_made_together_share_one_script_per_master_and_keep_their_answers() -> None:
    clock = FakeClock()
    store, ns = await _namespace(redis_cluster_url(), clock)
    try:
        await ns.put("taken", "old")
        calls: list[int] = []
        write = store._write_batch

        async def recording(puts: list[Any]) -> list[Any]:
            calls.append(len(puts))
            return await write(puts)

        store._batches.clear()
        store._bucket_batches.clear()
        store._write_batch = recording  # type: ignore[method-assign]
        keys = [f"k{i}" for i in range(50)]
        results = await asyncio.gather(
            *(ns.put(key, f"v{i}") for i, key in enumerate(keys)),
            ns.put("taken", "new", only_if_absent=True),
            return_exceptions=True,
        )
        # One batch per master (one script each) carried all 51 puts...
        masters = {
            store.client.get_node_from_key(
                store.keys.feed(redis_scripts.bucket_of(key, store.buckets))
            ).name
            for key in [*keys, "taken"]
        }
        assert len(masters) == 3
        assert len(calls) == len(masters) and sum(calls) == 51
        # ...and each put got its own answer: the conditional one alone failed.
        assert all(isinstance(r, int) for r in results[:50])
        assert isinstance(results[50], errors.PreconditionFailed)
        assert await ns.get("taken") == "old"
        found = await ns.get([f"k{i}" for i in range(50)])
        assert found == {f"k{i}": f"v{i}" for i in range(50)}
    finally:
        await store.aclose()


async def test_a_script_sent_to_a_master_missing_some_of_its_buckets_writes_each_once() -> None:
    # As after a resharding: the store believes one master holds every bucket. The script
    # sent there stops before writing, and each bucket is then written on its own, routed by
    # the client; the feed shows every write once.
    clock = FakeClock()
    store, ns = await _namespace(redis_cluster_url(), clock)
    try:
        start = await store.feed_position()
        one = store.client.get_node_from_key(store.keys.feed(0))
        store.client.get_node_from_key = lambda key, replica=False: one
        await ns.bulk_put([{"key": f"b{i}", "value": "v"} for i in range(40)])
        await asyncio.gather(*(ns.put(f"p{i}", "v") for i in range(40)))
        await store.client.script_flush()  # a master that lost its scripts loads them again
        await asyncio.gather(*(ns.put(f"q{i}", "v") for i in range(40)))
        changes = (await store.changes(start, 1000)).changes
        keys = [c.key for c in changes if c.namespace_id == ns.id and c.key is not None]
        expected = [f"{p}{i}" for p in "bpq" for i in range(40)]
        assert sorted(keys) == sorted(expected)  # each once: nothing written twice
        assert len({k.name for k in (await ns.list()).keys}) == 120
    finally:
        await store.aclose()


async def test_puts_to_a_deleted_namespace_fail_alone_in_a_shared_script() -> None:
    clock = FakeClock()
    store, ns = await _namespace(redis_url(), clock)
    kv = edgekv.AsyncKV(store, clock=clock, account_id=uuid.uuid4().hex)
    other = await kv.create_namespace("other")
    try:
        # Another client deletes `ns`; this one still believes it exists.
        second = AsyncRedisStore(redis_url(), clock=clock)
        await second.delete_namespace(ns.id)
        await second.aclose()
        results = await asyncio.gather(
            ns.put("a", "1"), other.put("b", "2"), return_exceptions=True
        )
        assert isinstance(results[0], errors.NamespaceNotFound)
        assert isinstance(results[1], int)
        assert await other.get("b") == "2"
    finally:
        await store.aclose()


def test_the_sync_store_writes_and_reads_the_feed_over_several_buckets_of_a_master() -> None:
    # The sync shell sends multi-bucket scripts through redis-py's sync node clients.
    from edgekv.stores.redis._sync.redis_store import RedisStore

    clock = FakeClock()
    store = RedisStore(redis_cluster_url(), clock=clock)
    kv = edgekv.KV(store, clock=clock, account_id=uuid.uuid4().hex)
    try:
        ns = kv.create_namespace("sync")
        start = store.feed_position()
        ns.bulk_put([{"key": f"s{i}", "value": f"v{i}"} for i in range(60)])
        assert ns.put("one", "1") > 0
        assert ns.get("s7") == "v7"
        changes = store.changes(start, 1000).changes
        keys = sorted(c.key for c in changes if c.namespace_id == ns.id and c.key is not None)
        assert keys == sorted([*(f"s{i}" for i in range(60)), "one"])
    finally:
        store.close()


async def test_a_store_written_before_sizes_were_kept_is_counted_once_on_first_use() -> None:
    clock = FakeClock()
    prefix = f"{REDIS_PREFIX}-old-{uuid.uuid4().hex[:6]}"
    store = AsyncRedisStore(redis_url(), prefix=prefix, clock=clock)
    ns = await edgekv.AsyncKV(store, clock=clock).create_namespace("old")
    await ns.bulk_put([{"key": f"k{i}", "value": "x" * i} for i in range(600)])
    await ns.put("big", b"b" * (2 << 20))
    await ns.put("ttl", "12345", expiration_ttl=60)
    await store.aclose()
    # As an older edgekv left it: entries without a size, no totals, not marked upgraded.
    client = redis.Redis.from_url(REDIS_URL)
    for name in client.scan_iter(match="{" + prefix + ":*"):
        if b":e:" in name:
            client.hdel(name, "z", "t")
        elif b":u:" in name or b":x:" in name:
            client.delete(name)
    client.hdel("{" + prefix + "}:meta", "totals")
    expected = (602, sum(range(600)) + (2 << 20) + 5)
    stores = [AsyncRedisStore(redis_url(), prefix=prefix, clock=clock) for _ in range(2)]
    try:
        found = await asyncio.gather(*(s.namespace_usage(ns.id) for s in stores))
        assert {(u.keys, u.bytes) for u in found} == {expected}
        kv_ns = await edgekv.AsyncKV(stores[0], clock=clock).namespace(ns.id)
        await kv_ns.put("k1", "")  # an upgraded entry overwritten: counted once
        clock.advance(200)  # past the expiration and the grace: out of the totals
        usage = await stores[1].namespace_usage(ns.id)
        assert (usage.keys, usage.bytes) == (expected[0] - 1, expected[1] - 1 - 5)
    finally:
        for s in stores:
            await s.aclose()
        for name in client.scan_iter(match="*" + prefix + "*"):
            client.delete(name)
        client.close()
