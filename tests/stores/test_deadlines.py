"""The deadlines a store URL sets (edgekv.stores.deadlines): `timeout` and `connect_timeout` on
every store's URL, with defaults of 5 s and 2 s, values refused at once when they are not
seconds in (0, 3600]; and AsyncDeadline, which ends a block at its deadline even through a
driver that cleans up before it gives in to a cancellation (as psycopg does).

Each store's behaviour at its deadline is tested beside it (tests/stores/*/test_deadlines.py).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from edgekv import errors
from edgekv.concurrency import AsyncBatch, AsyncDeadline
from edgekv.stores._async.urls import store_from_url
from edgekv.stores.deadlines import CONNECT_TIMEOUT, TIMEOUT


def _urls(tmp_path: Path) -> list[str]:
    return [
        f"sqlite:///{tmp_path}/kv.db",
        "postgresql://127.0.0.1:1/db?schema=edgekv",
        "redis://127.0.0.1:1/0",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
        "http://127.0.0.1:1",
        "relay://:secret@127.0.0.1:1",
    ]


def _with(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def test_every_store_url_takes_its_deadlines(tmp_path: Path) -> None:
    for url in _urls(tmp_path):
        store = store_from_url(url)  # nothing is connected before the first call
        try:
            assert store.deadlines.timeout == TIMEOUT, url  # type: ignore[attr-defined]
        finally:
            await store.aclose()
        store = store_from_url(_with(url, "timeout=0.5&connect_timeout=1.5"))
        try:
            deadlines = store.deadlines  # type: ignore[attr-defined]
            assert deadlines.timeout == 0.5, url
            if not url.startswith("sqlite"):  # a file has no connection to wait for
                assert (deadlines.connect_timeout, CONNECT_TIMEOUT) == (1.5, 2.0), url
        finally:
            await store.aclose()


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "3601"])
def test_a_deadline_that_is_not_seconds_is_refused(value: str, tmp_path: Path) -> None:
    for url in _urls(tmp_path):
        for name in ("timeout", "connect_timeout"):
            with pytest.raises(errors.BadRequest) as caught:
                store_from_url(_with(url, f"{name}={value}"))
            assert caught.value.message == (
                f"store URL option {name} must be seconds, more than 0 and at most 3600"
            )


async def test_a_deadline_ends_a_block_that_cleans_up_when_cancelled() -> None:
    cleaned_up = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(60)  # a cleanup that waits on what does not answer
        finally:
            cleaned_up.set()

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with AsyncDeadline(0.2):
            await stubborn()
    assert time.monotonic() - started < 5  # not the cleanup's 60 s
    assert cleaned_up.is_set()
    async with AsyncDeadline(0.2):  # met: nothing raised, and no cancellation left behind
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)


async def test_a_cancellation_from_outside_is_not_a_timeout() -> None:
    async def blocked() -> None:
        async with AsyncDeadline(30):
            await asyncio.sleep(60)

    task = asyncio.create_task(blocked())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cloudflares_api_waits_longer_by_default() -> None:
    """Its bulk writes of 10,000 keys may take longer than 5 s to answer, across the internet."""
    for url, want in (
        ("https://api.cloudflare.com/client/v4", 30.0),
        ("https://api.cloudflare.com/client/v4?timeout=3", 3.0),
    ):
        store = store_from_url(url, token="t", account_id="a")
        try:
            assert store.deadlines.timeout == want  # type: ignore[attr-defined]
        finally:
            await store.aclose()


async def test_a_batch_answers_each_item_by_its_deadline() -> None:
    """Items queued behind a run that does not end fail at their own deadline, not after that
    run's and then their own (the Redis store's writes per master, the server's group commit)."""
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int | Exception]:
        await release.wait()  # a store that does not answer
        return list(items)

    batch: AsyncBatch[int, int] = AsyncBatch(run, in_flight=1, deadline=0.3)
    started = time.monotonic()
    first = asyncio.ensure_future(batch.submit(1))
    await asyncio.sleep(0.2)
    queued = asyncio.ensure_future(batch.submit(2))  # waits for the first run to end
    async with asyncio.timeout(10):  # a hang fails here
        for item in (first, queued):
            with pytest.raises(TimeoutError):
                await item
    assert time.monotonic() - started < 0.2 + 0.3 + 2  # not the first's deadline plus its own
    release.set()
    assert await batch.submit(3) == 3  # answered once the store answers
