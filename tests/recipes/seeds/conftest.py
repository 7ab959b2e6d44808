"""The seeds' Worker code in real workerd, and edgekv's recipes in Python, over one namespace.

One `edgekv serve` (the pytest plugin's `edgekv_server`) serves the namespace twice: to the
Worker through its workerd listener (every binding the seeds name is that namespace) and to
Python through its REST API. A test writes on one side and reads on the other.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import edgekv
from edgekv.testing import EdgeKVServer, Workerd
from tests.services import require

HERE = Path(__file__).parent
WORKERD = HERE.parents[1] / "e2e" / "node" / "node_modules" / ".bin" / "workerd"


class SeedWorker:
    """Calls a seed function in the Worker: `worker.call("getSession", session_id)`."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def call(self, fn: str, *args: Any) -> Any:
        response = self.client.post("/", json={"fn": fn, "args": list(args)})
        response.raise_for_status()
        answer = response.json()
        assert answer["ok"], answer
        return answer["result"]


@pytest.fixture(scope="module")
def namespace_id(edgekv_server: EdgeKVServer) -> str:
    with edgekv_server.kv() as kv:
        return kv.create_namespace(f"seeds-{uuid.uuid4().hex[:8]}").id


@pytest.fixture(scope="module")
def worker(
    edgekv_server: EdgeKVServer, namespace_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedWorker]:
    require(WORKERD.exists(), "workerd (npm ci --prefix tests/e2e/node)")
    folder = tmp_path_factory.mktemp("seeds-workerd")
    config = (HERE / "config.capnp.template").read_text()
    config = config.replace("@NAMESPACE@", namespace_id).replace("@TOKEN@", edgekv_server.token)
    (folder / "config.capnp").write_text(config)
    shutil.copy(HERE / "seeds.js", folder / "seeds.js")
    assert edgekv_server.workerd_port is not None
    with (
        Workerd(WORKERD, folder / "config.capnp", external={"kv": edgekv_server.workerd_port}) as w,
        httpx.Client(base_url=w.url, timeout=30.0) as client,
    ):
        yield SeedWorker(client)


@pytest.fixture
async def ns(
    edgekv_server: EdgeKVServer, namespace_id: str, worker: SeedWorker
) -> AsyncIterator[edgekv.AsyncNamespace]:
    """The Worker's namespace through the REST API, emptied before each test."""
    async with edgekv_server.async_kv() as kv:
        namespace = await kv.namespace(namespace_id)
        while keys := [k.name for k in (await namespace.list()).keys]:
            await namespace.bulk_delete(keys)
        yield namespace
