"""Flags in seed 002's shape: the Worker's `FeatureFlags` and `AsyncFlags(format="worker")`
decide the same for every user, and read what the other wrote, byte for byte."""

from __future__ import annotations

import random

import edgekv
from edgekv.recipes import AsyncFlags, seed_bucket
from tests.recipes.seeds.conftest import SeedWorker

USERS = [f"user-{i}" for i in range(300)] + ["", "ü", "😀", "a" * 300, "vip"]


def _strings(rng: random.Random, n: int) -> list[str]:
    alphabet = "abcXYZ019:-_ üé中😀\U0001f9ea"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) for _ in range(n)]


def test_the_bucket_is_the_workers_hash(worker: SeedWorker) -> None:
    rng = random.Random(2)
    pairs = list(zip(_strings(rng, 400), _strings(rng, 400), strict=True))
    pairs += [("user-1", "new-checkout"), ("x" * 5000, "long"), ("", "")]
    assert worker.call("hashUserIds", pairs) == [seed_bucket(u, f) for u, f in pairs]


WORKER_FLAGS = {
    "rollout": {"enabled": True, "percentage": 33},
    "rollout-allow": {"enabled": True, "percentage": 10, "allowedUsers": ["vip", "user-7"]},
    "off": {"enabled": False, "percentage": 100, "allowedUsers": ["vip"]},
    "on": {"enabled": True, "metadata": {"owner": "team"}},
    "fraction": {"enabled": True, "percentage": 12.5},
    # What JavaScript coerces: a numeric string, null (0), a truthy number, a string list.
    "string-percentage": {"enabled": True, "percentage": "50"},
    "null-percentage": {"enabled": True, "percentage": None},
    "enabled-one": {"enabled": 1, "percentage": 70},
    "allowed-string": {"enabled": True, "allowedUsers": "vip,user-1", "percentage": 0},
    "array-percentage": {"enabled": True, "percentage": [40]},
}


async def test_python_decides_as_the_worker_for_flags_the_worker_wrote(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    for name, flag in WORKER_FLAGS.items():
        worker.call("setFlag", name, flag)
    flags = AsyncFlags(ns, format="worker")
    await flags.load()
    assert sorted(f.name for f in flags.list()) == sorted(WORKER_FLAGS)
    for name in WORKER_FLAGS:
        from_worker = [bool(on) for on in worker.call("isEnabledMany", name, USERS)]
        assert [flags.is_enabled(name, u) for u in USERS] == from_worker, name
    share = sum(flags.is_enabled("rollout", f"user-{i}") for i in range(300)) / 300
    assert 0.2 < share < 0.45  # a rollout, not all or nothing
    assert not flags.is_enabled("missing", "user-1")
    assert worker.call("isEnabled", "missing", "user-1") is False


async def test_the_worker_reads_and_decides_flags_python_wrote(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    flags = AsyncFlags(ns, format="worker")
    await flags.set(
        "new-checkout", enabled=True, rollout=25, allow=["vip"], description="checkout v2"
    )
    await flags.set("dark-mode", enabled=True)
    # The Worker writing the same flag stores the same bytes.
    same = {
        "enabled": True,
        "percentage": 25,
        "allowedUsers": ["vip"],
        "metadata": {"description": "checkout v2"},
    }
    worker.call("setFlag", "by-worker", same)
    ours = worker.call("raw", "flag:new-checkout")["value"]
    assert ours == worker.call("raw", "flag:by-worker")["value"]
    assert ours == (
        '{"enabled":true,"percentage":25,"allowedUsers":["vip"],'
        '"metadata":{"description":"checkout v2"}}'
    )

    listed = {f["name"]: f["flag"] for f in worker.call("listFlags")}
    assert listed["new-checkout"] == same
    assert listed["dark-mode"] == {"enabled": True}
    for name in ("new-checkout", "dark-mode"):
        from_worker = [bool(on) for on in worker.call("isEnabledMany", name, USERS)]
        assert [flags.is_enabled(name, u) for u in USERS] == from_worker


async def test_a_refresh_sees_what_the_worker_changed(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    flags = AsyncFlags(ns, format="worker")
    await flags.set("beta", enabled=False)
    assert not flags.is_enabled("beta", "user-1")
    assert await flags.refresh() is False  # nothing changed
    worker.call("setFlag", "beta", {"enabled": True})
    assert await flags.refresh() is True
    assert flags.is_enabled("beta", "user-1")
