from __future__ import annotations

import json

import pytest

import edgekv
from edgekv.recipes import AsyncFlags, Flag, bucket
from tests.clock import FakeClock


def test_a_25_percent_rollout_over_100000_users() -> None:
    flag = Flag("new-checkout", enabled=True, rollout=25)
    on = sum(flag.check(f"user-{i}") for i in range(100_000))
    assert 24_000 <= on <= 26_000
    # stable: the same answer from a new definition (another process)
    again = Flag("new-checkout", enabled=True, rollout=25)
    assert all(again.check(f"user-{i}") == flag.check(f"user-{i}") for i in range(1000))


def test_buckets_are_uniform_and_independent_per_flag() -> None:
    deciles = [0] * 10
    for i in range(50_000):
        deciles[int(bucket("f", str(i)) * 10)] += 1
    assert all(4_700 <= d <= 5_300 for d in deciles)
    a = {i for i in range(10_000) if bucket("a", str(i)) < 0.5}
    b = {i for i in range(10_000) if bucket("b", str(i)) < 0.5}
    assert 2_300 <= len(a & b) <= 2_700  # another flag picks another half


def test_evaluation_order() -> None:
    flag = Flag("f", enabled=True, rollout=0, allow=["vip"], deny=["banned"])
    assert flag.check("vip") and not flag.check("someone") and not flag.check("banned")
    assert not Flag("f", enabled=True, rollout=100, deny=["banned"]).check("banned")
    assert not Flag("f", enabled=False, allow=["vip"]).check("vip")  # off is off


async def test_flags_in_a_namespace(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    flags = AsyncFlags(namespace, refresh_interval="5s", clock=clock)
    await flags.load()
    assert flags.is_enabled("beta", "u1") is False
    assert flags.is_enabled("beta", "u1", default=True) is True
    await flags.set("beta", enabled=True, rollout=100, description="the beta")
    await flags.set("dark", enabled=False)
    assert flags.is_enabled("beta", "u1") and not flags.is_enabled("dark", "u1")
    assert [f.name for f in flags.list()] == ["beta", "dark"]
    assert flags.get("beta") == Flag("beta", True, 100, description="the beta")
    assert flags.is_enabled("beta", 12345)  # ints are users too

    # another process sees changes once its refresh interval has passed
    other = AsyncFlags(namespace, refresh_interval="5s", clock=clock)
    await other.load()
    await flags.set("beta", enabled=True, rollout=0, allow=["u2"])
    assert other.is_enabled("beta", "u1")  # its snapshot, no I/O
    clock.advance(6)
    other.is_enabled("beta", "u1")  # starts one background refresh
    await other.drain()
    assert not other.is_enabled("beta", "u1") and other.is_enabled("beta", "u2")
    assert await other.refresh() is False  # nothing moved: one read, no reload
    await flags.delete("dark")
    assert await other.refresh() is True
    assert other.get("dark") is None
    await flags.aclose()
    await other.aclose()


async def test_many_flags_load_over_pages(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    await namespace.bulk_put(
        [
            {"key": f"flag:f{i:04d}", "value": json.dumps(Flag(f"f{i:04d}", True).as_json())}
            for i in range(1100)
        ]
        + [{"key": "flag:broken", "value": '{"name": "broken", "rollout": 400}'}]
    )
    flags = AsyncFlags(namespace, clock=clock)
    await flags.load()
    assert len(flags.list()) == 1100  # every page; a malformed definition switches nothing on
    assert flags.is_enabled("f1099", "u") and not flags.is_enabled("broken", "u")


async def test_the_worker_format_in_python_alone(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    # Agreement with the Worker itself is in tests/recipes/seeds; here what Python decides.
    flags = AsyncFlags(namespace, format="worker", refresh_interval="5s", clock=clock)
    with pytest.raises(edgekv.BadRequest, match="no deny list"):
        await flags.set("f", enabled=True, deny=["banned"])
    with pytest.raises(edgekv.BadRequest, match="percentage"):
        await flags.set("f", enabled=True, rollout=101)
    await flags.set("f", enabled=True, rollout=0, allow=["vip"])
    assert flags.is_enabled("f", "vip") and not flags.is_enabled("f", "someone")
    assert flags.is_enabled("f", "")  # the Worker skips rollout for a falsy user id
    assert await namespace.get("flag:!version") is None  # the Worker's format has no counter
    await namespace.put("flag:broken", "{not json")  # a Worker would throw; off here
    await namespace.put("flag:list", "[1]")
    await flags.load()
    assert sorted(f.name for f in flags.list()) == ["f", "list"]
    assert not flags.is_enabled("broken", "u") and not flags.is_enabled("list", "u")
