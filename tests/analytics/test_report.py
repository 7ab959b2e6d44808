"""The usage log and the monthly report from Python, on real stores, with a clock the test
moves: Cloudflare's allowances and prices, the Free plan's days, storage in GB-months, 31 days
kept, and flushes that fail or repeat counting nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from edgekv.analytics import CLOUDFLARE_PRICES, Usage, UsageLog, monthly_report
from edgekv.analytics.log import RETENTION_DAYS
from edgekv.analytics.pricing import with_overrides
from edgekv.model import DEFAULT_ACCOUNT, EntryWrite
from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore
from tests.stores.backends import postgres_url
from tests.tcpproxy import TcpProxy

START = dt.datetime(2026, 11, 10, 12, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


async def test_costs_beyond_the_allowances_and_the_free_plans_days(tmp_path: Path) -> None:
    clock = Clock()
    store = AsyncSQLiteStore(tmp_path / "kv.db", clock=clock)
    try:
        ns = await store.create_namespace("big", DEFAULT_ACCOUNT)
        usage = Usage(clock)
        log = UsageLog(store, usage, clock=clock)
        usage.add(ns, "read", 12_000_000, 0, hits=9_000_000)
        usage.add(ns, "write", 1_500_000, 3_000_000)
        await store.put(ns.id, EntryWrite("v", b"x" * 3000, size=3000))
        await log.flush()  # the hour's first flush samples every namespace
        clock.now += 86400  # the next day: a few lists, under every daily limit
        usage.add(ns, "list", 10)
        await log.flush()
        # 1 "GB" = 1,000 bytes here, so the 3,000 bytes stored are 3 GB-months
        prices = with_overrides(CLOUDFLARE_PRICES, {"bytes_per_gb": 1000})
        report = await monthly_report(log, month="2026-11", prices=prices)
        october = await monthly_report(log, month="2026-10")
    finally:
        await store.aclose()
    total = report.total
    assert (total.reads, total.writes, total.lists, total.edge_hits) == (
        12_000_000,
        1_500_000,
        10,
        9_000_000,
    )
    assert total.hit_rate == 0.75
    assert total.cost.reads == pytest.approx(2.0 * 0.50)  # 12M - 10M included
    assert total.cost.writes == pytest.approx(0.5 * 5.00)  # 1.5M - 1M included
    assert total.cost.lists == 0
    assert total.gb_months == pytest.approx(3.0)
    assert total.cost.storage == pytest.approx((3.0 - 1.0) * 0.50)
    assert total.cost.total == pytest.approx(1.0 + 2.5 + 1.0)
    assert [(d.date, d.exceeded) for d in total.free_plan_exceeded] == [
        ("2026-11-10", ["reads", "writes", "storage"]),
        ("2026-11-11", ["storage"]),
    ]
    assert [d.date for d in report.namespaces[0].days] == ["2026-11-10", "2026-11-11"]
    assert report.namespaces[0].title == "big"
    assert october.namespaces == []


async def test_kept_31_days(tmp_path: Path) -> None:
    clock = Clock()
    store = AsyncSQLiteStore(tmp_path / "kv.db", clock=clock)
    try:
        ns = await store.create_namespace("old", DEFAULT_ACCOUNT)
        usage = Usage(clock)
        log = UsageLog(store, usage, clock=clock)
        usage.add(ns, "write", 5)
        await log.flush()
        hour = int(START // 3600)
        assert len(await log.operations(hour, hour)) == 1
        clock.now += (RETENTION_DAYS - 1) * 86400
        assert len(await log.operations(hour, hour)) == 1
        clock.now += 2 * 86400
        assert await log.operations(hour, hour) == []
        assert await store.purge_expired() > 0  # the store prunes the records
    finally:
        await store.aclose()


async def test_a_failed_flush_is_written_by_the_next_and_none_counts_twice() -> None:
    parts = urlsplit(postgres_url())
    with TcpProxy(parts.port or 5432) as proxy:
        netloc = (
            f"{parts.username}@127.0.0.1:{proxy.port}"
            if parts.username
            else f"127.0.0.1:{proxy.port}"
        )
        store = AsyncPostgresStore(urlunsplit(parts._replace(netloc=netloc)))
        try:
            ns = await store.create_namespace("flaky", uuid.uuid4().hex)
            usage = Usage()
            log = UsageLog(store, usage)
            await log.namespace_id()
            usage.add(ns, "write", 3, 30)
            await log.flush()
            usage.add(ns, "write", 4, 40)
            proxy.cut()
            await log.flush()  # fails: kept for the next one
            proxy.resume()
            usage.add(ns, "delete", 1)
            async with asyncio.timeout(15):
                while log.pending:
                    await log.flush()
                    await asyncio.sleep(0.1)
            await log.flush()  # nothing new: the same totals again
            now = int(usage.clock() // 3600)
            found = {
                o.action: o
                for o in await log.operations(now - 1, now + 1)
                if o.namespace_id == ns.id
            }
        finally:
            proxy.resume()
            await store.aclose()
    assert (found["write"].requests, found["write"].bytes) == (7, 70)
    assert found["delete"].requests == 1
