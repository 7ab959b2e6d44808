from __future__ import annotations

import re

import pytest

import edgekv
from edgekv.recipes import AsyncSessions
from tests.clock import FakeClock


async def test_create_get_delete(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    sessions = AsyncSessions(namespace, ttl="30m", clock=clock)
    s = await sessions.create({"user": 42})
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", s.id)  # 32 random bytes, URL-safe
    assert s.expires_at == clock() + 1800
    got = await sessions.get(s.id)
    assert got is not None and got.data == {"user": 42}
    other = await sessions.create({"user": 42})
    assert other.id != s.id
    # logout: gone at once for every reader, also another instance (another process)
    await sessions.delete(s.id)
    assert await AsyncSessions(namespace, clock=clock).get(s.id) is None
    assert await sessions.get(other.id) is not None


async def test_sliding_expiry(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    sessions = AsyncSessions(namespace, ttl="30m", clock=clock)
    s = await sessions.create()
    clock.advance(20 * 60)
    touched = await sessions.touch(s.id)
    assert touched is not None and touched.expires_at == clock() + 1800
    clock.advance(20 * 60)
    assert await sessions.get(s.id) is not None  # 40 minutes old, 20 idle
    clock.advance(31 * 60)
    assert await sessions.get(s.id) is None
    assert await sessions.touch(s.id) is None


async def test_absolute_limit_and_short_ttl(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    sessions = AsyncSessions(namespace, ttl=30, absolute_ttl=50, clock=clock)
    s = await sessions.create({"a": 1})
    stored = await namespace.get_with_metadata("session:" + s.id)
    assert stored.expiration is not None and stored.expiration >= clock() + 60  # legal in KV
    clock.advance(25)
    touched = await sessions.touch(s.id)
    assert touched is not None and touched.expires_at == s.created_at + 50  # capped
    clock.advance(26)
    assert await sessions.get(s.id) is None  # 30 s under the KV minimum still holds


async def test_update_and_malformed_ids(namespace: edgekv.AsyncNamespace, clock: FakeClock) -> None:
    sessions = AsyncSessions(namespace, clock=clock)
    s = await sessions.create({"cart": []})
    updated = await sessions.update(s.id, {"cart": [1]})
    assert updated is not None and updated.version != s.version
    got = await sessions.get(s.id)
    assert got is not None and got.data == {"cart": [1]}
    for bad in ["", "short", "../../etc", "x" * 500, s.id + "!"]:
        assert await sessions.get(bad) is None
        await sessions.delete(bad)  # no error, no I/O on garbage


async def test_the_worker_format_keeps_its_rules(
    namespace: edgekv.AsyncNamespace, clock: FakeClock
) -> None:
    # The Worker-side reads are in tests/recipes/seeds; here what Python alone decides.
    sessions = AsyncSessions(namespace, ttl=30, absolute_ttl=50, format="worker", clock=clock)
    with pytest.raises(edgekv.BadRequest, match="needs a userId"):
        await sessions.create({"user": 42})
    s = await sessions.create({"userId": "u1", "roles": ["admin"]})
    stored = await namespace.get_with_metadata("session:" + s.id, "json")
    assert stored.value == {
        "userId": "u1",
        "roles": ["admin"],
        "expiresAt": int(clock.now * 1000) + 30_000,
    }
    assert stored.metadata == {
        "createdAt": int(clock.now * 1000),
        "absoluteExpiresAt": int(clock.now * 1000) + 50_000,
    }
    clock.advance(30)  # getSession: `expiresAt < Date.now()`, so the last millisecond is valid
    assert await sessions.get(s.id) is not None
    clock.advance(0.001)
    assert await sessions.get(s.id) is None
    with pytest.raises(edgekv.BadRequest, match="Unknown session format"):
        AsyncSessions(namespace, format="json")  # type: ignore[arg-type]
