"""The relay store's faults in edgekv's words: a relay that cannot be reached, one that accepts
connections and never answers, one that answers what is not the protocol, and a wrong secret.
Each call fails within a bound, naming neither the address nor the OS's text."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from edgekv import errors
from edgekv.model import EntryWrite
from edgekv.stores.relay._async.relay_store import AsyncRelayStore
from edgekv.stores.relay._sync.relay_store import RelayStore
from edgekv.stores.relay.connections import RelayConnectionError
from tests.stores.faults import Call, closed_port, each_unavailable

NS = "0" * 32


def _calls(store: AsyncRelayStore) -> list[Call]:
    return [
        lambda: store.get_namespace(NS),
        lambda: store.get(NS, "k"),
        lambda: store.put(NS, EntryWrite("k", b"v", size=1)),
        lambda: store.changes(None),
    ]


@contextlib.asynccontextmanager
async def listening(answer: bytes | None) -> AsyncIterator[int]:
    """A loopback server that reads each request and answers `answer` (None: never)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
            if answer is None:
                await asyncio.sleep(60)
                return
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_relay_that_cannot_be_reached(store_log: pytest.LogCaptureFixture) -> None:
    url = f"relay://:secret@127.0.0.1:{closed_port()}?retries=1"
    async with AsyncRelayStore(url) as store:
        messages = await each_unavailable(_calls(store), store_log, RelayConnectionError)
        assert set(messages) == {"central store unavailable: connection refused"}
        # The follower's wait for changes says "none" rather than failing: its next look fails.
        assert await store.wait_for_changes("epoch.0", 0.2) is False
    with RelayStore(url) as sync_store, pytest.raises(errors.StoreUnavailable) as caught:
        sync_store.list_namespaces(None)
    assert caught.value.message == "central store unavailable: connection refused"


async def test_a_relay_that_never_answers(store_log: pytest.LogCaptureFixture) -> None:
    async with listening(None) as port:
        url = f"relay://:secret@127.0.0.1:{port}?timeout=0.3&retries=0"
        async with AsyncRelayStore(url) as store:
            messages = await each_unavailable(_calls(store), store_log, RelayConnectionError)
    assert set(messages) == {"central store unavailable: timed out"}


async def test_an_answer_that_is_not_the_protocol(store_log: pytest.LogCaptureFixture) -> None:
    async with (
        listening(b"this is not HTTP\r\n\r\n") as port,
        AsyncRelayStore(f"relay://:secret@127.0.0.1:{port}?retries=0") as store,
    ):
        messages = await each_unavailable(_calls(store)[:1], store_log, RelayConnectionError)
    assert messages == ["central store unavailable: not a relay answer"]


async def test_a_relay_url_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEKV_RELAY_SECRET", raising=False)
    with pytest.raises(errors.BadRequest, match="needs the relay's secret"):
        AsyncRelayStore("relay://127.0.0.1:9")
    monkeypatch.setenv("EDGEKV_RELAY_SECRET", "from-env")
    async with AsyncRelayStore("relay://127.0.0.1:9"):
        pass
    with pytest.raises(errors.BadRequest, match="not a relay URL"):
        AsyncRelayStore("http://:s@127.0.0.1:9")
