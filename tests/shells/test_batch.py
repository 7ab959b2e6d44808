"""AsyncBatch: what is submitted in one turn of the event loop is run together, each item
answered with its own result or error; Batch, its sync twin, runs each item alone."""

from __future__ import annotations

import asyncio

import pytest

from edgekv.concurrency import AsyncBatch, Batch


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gate: asyncio.Event | None = None

    async def run(self, items: list[int]) -> list[int | Exception]:
        self.calls.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_items_of_one_turn_share_one_run_and_keep_their_own_answers() -> None:
    recorder = Recorder()
    batch = AsyncBatch(recorder.run)
    results = await asyncio.gather(*(batch.submit(i) for i in range(6)), return_exceptions=True)
    assert recorder.calls == [[0, 1, 2, 3, 4, 5]]
    assert [r if isinstance(r, int) else str(r) for r in results] == [
        0,
        "odd 1",
        20,
        "odd 3",
        40,
        "odd 5",
    ]


async def test_in_flight_holds_later_items_for_the_next_run() -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    batch = AsyncBatch(recorder.run, in_flight=1)
    first = asyncio.gather(batch.submit(0), batch.submit(2))
    await asyncio.sleep(0.01)  # the first run is in flight, held at the gate
    later = asyncio.gather(*(batch.submit(i) for i in (4, 6, 8)))
    await asyncio.sleep(0.01)
    assert recorder.calls == [[0, 2]]  # the later items wait: at most one run at once
    recorder.gate.set()
    assert list(await first) == [0, 20]
    assert list(await later) == [40, 60, 80]
    assert recorder.calls == [[0, 2], [4, 6, 8]]


async def test_without_a_limit_runs_overlap() -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    batch = AsyncBatch(recorder.run)
    first = asyncio.ensure_future(batch.submit(0))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(batch.submit(2))
    await asyncio.sleep(0.01)
    assert recorder.calls == [[0], [2]]
    recorder.gate.set()
    assert (await first, await second) == (0, 20)


async def test_a_run_that_raises_fails_every_item_of_it() -> None:
    async def broken(items: list[int]) -> list[int | Exception]:
        raise ConnectionError("store down")

    batch = AsyncBatch(broken, in_flight=1)
    results = await asyncio.gather(batch.submit(1), batch.submit(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    with pytest.raises(ConnectionError):  # and the next run still starts: nothing is stuck
        await asyncio.wait_for(batch.submit(3), 1)


def test_the_sync_batch_runs_each_item_alone() -> None:
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int | Exception]:
        calls.append(items)
        return [ValueError("no") if i < 0 else i + 1 for i in items]

    batch = Batch(run)
    assert batch.submit(1) == 2
    with pytest.raises(ValueError, match="no"):
        batch.submit(-1)
    assert calls == [[1], [-1]]
