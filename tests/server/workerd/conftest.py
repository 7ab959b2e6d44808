"""Real workerd running a Worker whose KV bindings are served by edgekv's workerd listener.

One edgekv (an in-memory store behind `WorkerdListener`, in a thread with its own event loop)
and one workerd process per test module, each on a free loopback port. The tests call the
Worker over HTTP and see exactly what a Worker sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import subprocess
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import edgekv
from edgekv.server.accounts import Accounts
from edgekv.server.workerd.handler import token_authorizer, workerd_app
from edgekv.server.workerd.listener import WorkerdListener
from tests.services import require

HERE = Path(__file__).parent
NODE = HERE.parents[1] / "e2e" / "node"
WORKERD = NODE / "node_modules" / ".bin" / "workerd"
TITLE = "workers-ns"
START_TIMEOUT = 30.0
SERVICES = (
    "kv",
    "kv-by-title",
    "kv-wrong-token",
    "kv-no-token",
    "kv-read-only",
    "kv-other-namespace",
)

T = TypeVar("T")


class LoopThread:
    """An event loop in a daemon thread: the edgekv side runs there while tests block on HTTP."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Edge:
    """The edgekv side: its KV (to check what the Worker wrote) and the namespace id."""

    loop: LoopThread | None
    kv: edgekv.AsyncKV
    namespace: edgekv.AsyncNamespace
    listener: WorkerdListener
    tokens: dict[str, str]

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return self.loop.run(coro)


class Worker:
    """Calls the driver Worker (tests/server/workerd/worker.js): `call("put", "k", "v", {...})`."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def call(self, method: str, *args: Any, binding: str = "KV", **extra: Any) -> dict[str, Any]:
        body = {"binding": binding, "method": method, "args": list(args), **extra}
        response = self.client.post("/call", json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def ok(self, method: str, *args: Any, **extra: Any) -> Any:
        answer = self.call(method, *args, **extra)
        assert answer["ok"], answer
        return answer["result"]

    def error(self, method: str, *args: Any, **extra: Any) -> str:
        answer = self.call(method, *args, **extra)
        assert not answer["ok"], answer
        return str(answer["error"])


async def _start_edge() -> Edge:
    """edgekv as `edgekv serve` runs it: accounts and tokens in the store, checked per request."""
    store = edgekv.AsyncSQLiteStore(None)
    accounts = Accounts(store)
    account = await accounts.default_account()
    kv = edgekv.AsyncKV(store, account_id=account.id)
    ns = await kv.create_namespace(TITLE)
    other = await kv.create_namespace("another")
    tokens = {
        "token": await accounts.create_token(account.id),
        "read-only": await accounts.create_token(account.id, read_only=True),
        "other-namespace": await accounts.create_token(account.id, namespaces=[other.id]),
    }
    app = workerd_app(kv, token_authorizer(accounts))
    listener = await WorkerdListener(app).start()
    return Edge(None, kv, ns, listener, {name: secret for name, (secret, _) in tokens.items()})


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    loop = LoopThread()
    edge = loop.run(_start_edge())
    edge.loop = loop
    try:
        yield edge
    finally:
        loop.run(edge.listener.aclose())
        loop.run(edge.kv.aclose())
        loop.stop()


@pytest.fixture(scope="module")
def worker(edge: Edge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    require(WORKERD.exists(), "workerd (npm ci --prefix tests/e2e/node)")
    folder = tmp_path_factory.mktemp("workerd")
    config = (HERE / "config.capnp.template").read_text()
    config = config.replace("@NAMESPACE@", edge.namespace.id).replace("@TITLE@", TITLE)
    for name, secret in edge.tokens.items():
        config = config.replace(f"@{name.upper()}@", secret)
    (folder / "config.capnp").write_text(config)
    shutil.copy(HERE / "worker.js", folder / "worker.js")
    read_fd, write_fd = os.pipe()
    command = [str(WORKERD), "serve", "config.capnp", "--socket-addr=http=127.0.0.1:0"]
    command += [f"--external-addr={name}=127.0.0.1:{edge.listener.port}" for name in SERVICES]
    command.append(f"--control-fd={write_fd}")
    log = (folder / "workerd.log").open("wb")
    process = subprocess.Popen(
        command, cwd=folder, pass_fds=[write_fd], stdout=log, stderr=subprocess.STDOUT
    )
    os.close(write_fd)
    try:
        port = _listen_port(read_fd, process, folder / "workerd.log")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            yield Worker(client)
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _listen_port(read_fd: int, process: subprocess.Popen[bytes], log: Path) -> int:
    """Reads workerd's control fd until it reports the port of the `http` socket."""
    buffer = b""
    deadline = START_TIMEOUT
    while deadline > 0:
        ready, _, _ = select.select([read_fd], [], [], 0.25)
        deadline -= 0.25
        if ready:
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.splitlines():
                event = json.loads(line) if line.strip().startswith(b"{") else {}
                if event.get("event") == "listen" and event.get("socket") == "http":
                    return int(event["port"])
        if process.poll() is not None:
            break
    pytest.fail(f"workerd did not start: {log.read_text(errors='replace')}")
