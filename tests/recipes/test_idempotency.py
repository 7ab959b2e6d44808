from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import edgekv
from edgekv.recipes import AsyncIdempotency, ClaimLost
from tests.clock import FakeClock
from tests.recipes import workers


async def test_claim_complete(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    idem = AsyncIdempotency(namespace, claim_ttl="5m", clock=clock)
    first = await idem.claim("evt_1")
    assert first.claimed and first.state == "claimed"
    second = await idem.claim("evt_1")
    assert not second.claimed and second.state == "processing"
    await idem.complete(first, {"order": 7})
    third = await idem.claim("evt_1")
    assert (third.claimed, third.state, third.result) == (False, "done", {"order": 7})
    status = await idem.status("evt_1")
    assert status is not None and status["state"] == "done"


async def test_a_dead_workers_claim_expires(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    idem = AsyncIdempotency(namespace, claim_ttl=30, clock=clock)
    dead = await idem.claim("evt_2")
    clock.advance(31)
    retry = await idem.claim("evt_2")
    assert retry.claimed and retry.attempt == 2
    assert not (await idem.claim("evt_2")).claimed
    with pytest.raises(ClaimLost):
        await idem.complete(dead)  # too late: the delivery was taken over
    await idem.complete(retry)
    assert (await idem.claim("evt_2")).state == "done"


async def test_release_lets_the_next_claim_retry_at_once(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    idem = AsyncIdempotency(namespace, clock=clock)
    c = await idem.claim("evt_3")
    await idem.release(c)
    again = await idem.claim("evt_3")
    assert again.claimed and again.attempt == 2
    with pytest.raises(edgekv.BadRequest):
        await idem.complete(await idem.claim("evt_3"))  # not claimed by this worker


def test_100_claims_across_4_processes_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    with edgekv.KV(f"sqlite:///{path}") as kv:
        kv.create_namespace("HOOKS")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(4)
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        futures = [pool.submit(workers.claim_many, str(path), barrier, 25) for _ in range(4)]
        outcomes = [f.result(timeout=120) for f in futures]
    claims = [c for per_process in outcomes for c in per_process[:-1]]
    assert len(claims) == 100
    assert sum(claimed for claimed, _ in claims) == 1
    assert all(state in ("processing", "done") for claimed, state in claims if not claimed)
    assert all(late == (False, "done") for late in (p[-1] for p in outcomes))
