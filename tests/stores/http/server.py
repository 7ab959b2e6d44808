"""A real edgekv server (`create_app` + uvicorn) on a free loopback port, in a thread.

One server serves the whole test session; each store the conformance suite opens gets a fresh
account and token, so tests stay isolated as they are on a shared database. The server's store
reads time from a clock that follows the current test's FakeClock, so tests move the server's
time as they move their own.
"""

from __future__ import annotations

import asyncio
import atexit
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import uvicorn

from edgekv import AsyncSQLiteStore
from edgekv.server.accounts import Accounts
from edgekv.server.app import create_app

T = TypeVar("T")
START_TIMEOUT = 20.0


class FollowingClock:
    """A clock that reads whichever clock the current test set (the real time before that)."""

    def __init__(self) -> None:
        self.target: Callable[[], float] = time.time

    def __call__(self) -> float:
        return self.target()


class RestServer:
    def __init__(self, **options: Any) -> None:
        """`options` for create_app (a relay: `relay_secret`, `cache_size`)."""
        self.clock = FollowingClock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.store = AsyncSQLiteStore(None, clock=self.clock)
        self.app = create_app(self.store, clock=self.clock, **options)
        self.accounts: Accounts = self.app.state.accounts
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app, lifespan="on", log_level="warning", access_log=False, loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self.serving = asyncio.run_coroutine_threadsafe(self.server.serve([sock]), self.loop)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if self.serving.done() or time.monotonic() > deadline:
                self.serving.result(0)  # raises what went wrong
                raise RuntimeError("the edgekv server did not start")
            time.sleep(0.01)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def new_account(self) -> tuple[str, str]:
        """A fresh account and a token for it: (account id, token)."""

        async def create() -> tuple[str, str]:
            account = await self.accounts.create_account("conformance", uuid.uuid4().hex)
            secret, _ = await self.accounts.create_token(account.id)
            return account.id, secret

        return self.run(create())

    def stop(self) -> None:
        self.server.should_exit = True
        try:
            self.serving.result(15)
        finally:
            self.run(self.store.aclose())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


_servers: dict[str, RestServer] = {}
_lock = threading.Lock()
RELAY_SECRET = "conformance-relay-secret"


def rest_server() -> RestServer:
    """The session's server, started on first use and stopped when the tests end."""
    return _session_server("rest")


def relay_server() -> RestServer:
    """The session's relay (a server with a relay secret and an edge), as `rest_server`."""
    return _session_server("relay", relay_secret=RELAY_SECRET, cache_size=64 << 20)


def _session_server(name: str, **options: Any) -> RestServer:
    with _lock:
        if name not in _servers:
            _servers[name] = RestServer(**options)
            atexit.register(_servers[name].stop)
        return _servers[name]
