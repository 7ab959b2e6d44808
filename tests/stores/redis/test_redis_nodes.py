"""The store's own lane to a Redis node (edgekv.stores.redis.nodes), against a real Redis: calls
pipelined on one connection each get their own answer; a timeout or a lost connection fails
the calls waiting, and the next call connects again."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio
import redis.exceptions
import uvloop

from edgekv.stores.redis.nodes import AsyncNodeClient
from tests.stores.backends import redis_url


def _client(**kwargs: object) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(redis_url().split("?")[0], **kwargs)  # type: ignore[arg-type]


async def test_calls_pipelined_on_one_connection_each_get_their_own_answer() -> None:
    client = _client()
    nodes = AsyncNodeClient(client)
    try:
        echoes = [nodes.call(None, "ECHO", f"call {i}") for i in range(200)]
        missing = nodes.call(None, "EVALSHA", "0" * 40, 0)  # an error answer, in the middle
        more = [nodes.call(None, "ECHO", f"after {i}") for i in range(50)]
        got = await asyncio.gather(*echoes, missing, *more, return_exceptions=True)
        assert got[:200] == [f"call {i}".encode() for i in range(200)]
        assert isinstance(got[200], redis.exceptions.NoScriptError)
        assert got[201:] == [f"after {i}".encode() for i in range(50)]
        assert len(nodes.lanes) == 1
        # An answer that arrives in many reads is put together before it is handed over.
        big = bytes(range(256)) * 8192  # 2 MiB
        assert await asyncio.gather(*(nodes.call(None, "ECHO", big) for _ in range(3))) == [big] * 3
        ids = {await nodes.call(None, "CLIENT", "ID") for _ in range(3)}
        assert len(ids) == 1  # one connection
    finally:
        await nodes.aclose()
        await client.aclose()


async def test_a_call_that_times_out_fails_and_the_next_connects_again() -> None:
    client = _client(socket_timeout=0.2)  # the lane bounds each call by the client's timeout
    nodes = AsyncNodeClient(client)
    key = f"edgekv-test-lane-{uuid.uuid4().hex}"
    try:
        first = await nodes.call(None, "CLIENT", "ID")
        waiting = asyncio.gather(
            nodes.call(None, "BLPOP", key, 2), nodes.call(None, "PING"), return_exceptions=True
        )
        blocked, queued = await waiting
        assert isinstance(blocked, redis.exceptions.TimeoutError)
        # Behind the blocked call, the ping's answer could not be told from the blocked one's.
        assert isinstance(queued, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)
        assert await nodes.call(None, "PING") in (b"PONG", True)
        assert await nodes.call(None, "CLIENT", "ID") != first
    finally:
        await nodes.aclose()
        await client.aclose()


async def test_each_call_waits_its_own_time_on_the_lanes_one_timer() -> None:
    client = _client(socket_timeout=0.3)
    nodes = AsyncNodeClient(client)
    key = f"edgekv-test-lane-{uuid.uuid4().hex}"
    try:
        first = await nodes.call(None, "CLIENT", "ID")
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        while loop.time() < end:  # many timeouts' worth of calls, each answered at once
            assert await nodes.call(None, "PING") in (b"PONG", True)
            await asyncio.sleep(0.02)
        # A call sent after the timer was armed for an earlier one is given its full time:
        # its answer (BLPOP's nil after 0.2 s) comes after the earlier call's deadline (0.3 s).
        earlier = asyncio.ensure_future(nodes.call(None, "PING"))
        await asyncio.sleep(0.15)
        pong, nothing = await asyncio.gather(earlier, nodes.call(None, "BLPOP", key, 0.2))
        assert pong in (b"PONG", True) and nothing is None
        assert await nodes.call(None, "CLIENT", "ID") == first  # never dropped
    finally:
        await nodes.aclose()
        await client.aclose()


async def test_a_lost_connection_fails_the_waiting_calls_and_is_made_again() -> None:
    client = _client()
    nodes = AsyncNodeClient(client)
    key = f"edgekv-test-lane-{uuid.uuid4().hex}"
    try:
        lane_id = await nodes.call(None, "CLIENT", "ID")
        blocked = asyncio.create_task(nodes.call(None, "BLPOP", key, 5))
        await asyncio.sleep(0.1)
        assert await client.client_kill_filter(_id=lane_id) == 1
        with pytest.raises(redis.exceptions.ConnectionError):
            await asyncio.wait_for(blocked, 2)
        assert await nodes.call(None, "ECHO", "again") == b"again"
    finally:
        await nodes.aclose()
        await client.aclose()


async def test_a_call_that_cannot_be_sent_fails_alone() -> None:
    client = _client()
    nodes = AsyncNodeClient(client)
    try:
        with pytest.raises(TypeError):
            await nodes.call(None, "ECHO", None)  # not a Redis argument: never sent
        got = await asyncio.gather(*(nodes.call(None, "ECHO", f"n{i}") for i in range(20)))
        assert got == [f"n{i}".encode() for i in range(20)]
    finally:
        await nodes.aclose()
        await client.aclose()


def test_a_connection_torn_from_under_the_lane_fails_as_lost_and_is_made_again() -> None:
    # As redis-py's cluster client does to every connection of a node it saw fail: the
    # transport is closed under the lane. Under uvloop, as the server runs, a write to it
    # raises RuntimeError, not a Redis error; the lane answers ConnectionError and reconnects.
    async def scenario() -> None:
        client = _client()
        nodes = AsyncNodeClient(client)
        try:
            assert await nodes.call(None, "ECHO", "before") == b"before"
            nodes.lanes[None].connection._writer.transport.close()
            with pytest.raises(redis.exceptions.ConnectionError):
                await nodes.call(None, "ECHO", "lost")
            assert await nodes.call(None, "ECHO", "after") == b"after"
        finally:
            await nodes.aclose()
            await client.aclose()

    uvloop.run(scenario())


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        # Found by the soak (benchmarks/soak.py): a Redis restarted with its data answers
        # -LOADING until it has read it; redis-py names that a BusyLoadingError, which is a
        # ConnectionError, and the lane handed it to the store as the script's result.
        ("LOADING Redis is loading the dataset in memory", redis.exceptions.BusyLoadingError),
        ("NOAUTH Authentication required.", redis.exceptions.AuthenticationError),
        ("READONLY You cannot write against a read only replica.", redis.exceptions.ReadOnlyError),
    ],
)
async def test_every_error_answer_is_raised(answer: str, kind: type[Exception]) -> None:
    # A real Redis sends the answer's bytes (a script's error reply), as a server would.
    client = _client()
    nodes = AsyncNodeClient(client)
    try:
        with pytest.raises(kind):
            await nodes.call(None, "EVAL", f"return redis.error_reply('{answer}')", 0)
        assert await nodes.call(None, "ECHO", "after") == b"after"  # the lane is still good
    finally:
        await nodes.aclose()
        await client.aclose()
