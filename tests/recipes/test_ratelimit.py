from __future__ import annotations

import asyncio

import pytest

import edgekv
from edgekv.recipes import AsyncRateLimiter
from tests.clock import FakeClock


async def test_fixed_window(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    clock.now = 1_800_000_000.0  # a window boundary (a multiple of 30)
    rl = AsyncRateLimiter(namespace, limit=5, window="30s", clock=clock)
    results = [await rl.hit("ip:1") for _ in range(6)]
    assert [r.allowed for r in results] == [True] * 5 + [False]
    assert results[4].remaining == 0 and results[5].retry_after == 30
    assert (await rl.hit("ip:2")).allowed  # another identity, another counter
    clock.advance(30)
    assert (await rl.hit("ip:1")).allowed
    assert (await rl.peek("ip:1")).count == 1


async def test_denied_hits_are_refunded(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    rl = AsyncRateLimiter(namespace, limit=3, window=60, clock=clock)
    assert (await rl.hit("u", cost=2)).allowed
    assert not (await rl.hit("u", cost=2)).allowed
    assert (await rl.hit("u", cost=1)).allowed  # the denied 2 did not count
    assert (await rl.peek("u")).remaining == 0
    await rl.reset("u")
    assert (await rl.peek("u")).remaining == 3


async def test_sliding_window_weights_the_previous_one(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    clock.now = 1_800_000_000.0
    rl = AsyncRateLimiter(namespace, limit=10, window=10, sliding=True, clock=clock)
    for _ in range(10):
        assert (await rl.hit("u")).allowed
    clock.advance(15)  # half way through the next window: the previous 10 weigh 5
    allowed = [(await rl.hit("u")).allowed for _ in range(6)]
    assert allowed == [True] * 5 + [False]
    clock.advance(10)  # the full window later, the previous window weighs half of 5
    assert (await rl.peek("u")).count == pytest.approx(2.5)


async def test_counting_is_atomic(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    rl = AsyncRateLimiter(namespace, limit=20, window=60, clock=clock)
    results = await asyncio.gather(*(rl.hit("burst") for _ in range(50)))
    assert sum(r.allowed for r in results) == 20


def test_bad_configuration(namespace: edgekv.AsyncNamespace) -> None:
    cases: list[tuple[int, int | str]] = [(0, 60), (5, 0), (5, "soon")]
    for limit, window in cases:
        with pytest.raises(edgekv.BadRequest):
            AsyncRateLimiter(namespace, limit=limit, window=window)
