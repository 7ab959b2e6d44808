"""Sessions in the seeds' shape: `AsyncSessions(format="worker")` writes what seed 003's
`getSession` and seed 002's `validateSession` read, and reads what their Workers wrote."""

from __future__ import annotations

import json
import time

import edgekv
from edgekv.recipes import AsyncSessions
from tests.recipes.seeds.conftest import SeedWorker


async def test_the_workers_read_sessions_python_created(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    sessions = AsyncSessions(ns, ttl="24h", format="worker")
    session = await sessions.create({"userId": "user-1"})
    expires_ms = int(session.expires_at * 1000)

    raw = worker.call("raw", f"session:{session.id}")
    assert raw["value"] == f'{{"userId":"user-1","expiresAt":{expires_ms}}}'  # byte for byte
    assert raw["metadata"] == {"createdAt": int(session.created_at * 1000)}
    assert worker.call("getSession", session.id) == {"userId": "user-1", "expiresAt": expires_ms}
    assert worker.call("validateSession", session.id)["userId"] == "user-1"

    # A slid expiry is what the Worker sees next; a deleted session is gone for it too.
    slid = await sessions.touch(session.id)
    assert slid is not None
    assert worker.call("getSession", session.id)["expiresAt"] == int(slid.expires_at * 1000)
    await sessions.delete(session.id)
    assert worker.call("getSession", session.id) is None


async def test_python_reads_sessions_the_workers_created(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    sessions = AsyncSessions(ns, ttl="24h", format="worker")
    before = time.time()
    session_id = worker.call("createSession", "user-2")  # seed 003
    found = await sessions.get(session_id)
    assert found is not None
    assert found.data == {"userId": "user-2"}
    assert before - 1 <= found.created_at <= time.time() + 1  # from its createdAt metadata
    assert abs(found.expires_at - (found.created_at + 86400)) < 1

    created = worker.call("createSession002", {"userId": "u3", "email": "u3@example.com"})  # 002
    other = await sessions.get(created["sessionId"])
    assert other is not None
    assert other.data["email"] == "u3@example.com" and other.data["roles"] == []
    assert abs(other.expires_at - (other.created_at + 86400)) < 1  # from its ISO-8601 times

    # Python's update keeps the shape the Worker reads.
    await sessions.update(session_id, {"userId": "user-2", "theme": "dark"})
    assert worker.call("getSession", session_id)["theme"] == "dark"


async def test_an_expired_session_is_gone_on_both_sides(
    worker: SeedWorker, ns: edgekv.AsyncNamespace
) -> None:
    two_hours_ago = time.time() - 7200
    past = AsyncSessions(ns, ttl="1h", format="worker", clock=lambda: two_hours_ago)
    session = await past.create({"userId": "user-4"})
    stored = json.loads(worker.call("raw", f"session:{session.id}")["value"])
    assert stored["expiresAt"] < time.time() * 1000  # kept by KV, expired by its own time
    assert worker.call("getSession", session.id) is None
    assert await AsyncSessions(ns, format="worker").get(session.id) is None
    assert worker.call("validateSession", session.id) is None  # seed 002 deletes it
    assert worker.call("raw", f"session:{session.id}")["value"] is None
