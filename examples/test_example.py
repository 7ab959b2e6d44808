"""Testing code that uses Workers KV, with edgekv's pytest plugin: copy this file.

    pip install 'edgekv[testing]'
    pytest test_example.py                                   # a memory:// store per test
    pytest test_example.py --edgekv-store postgresql://localhost/test   # a namespace per test

The fixtures come with edgekv (no conftest needed): `edgekv_namespace`, `edgekv_kv`,
`edgekv_edge_kv`, `edgekv_clock`, `edgekv_server`, and with pytest-asyncio
`edgekv_async_namespace`, `edgekv_async_kv`. See docs/testing.md.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from edgekv import KV, AsyncNamespace, Namespace
from edgekv.testing import Clock, EdgeKVServer


# The code under test: seed 003's session pattern, written against the Workers KV API.
def create_session(ns: Namespace, user_id: str, clock: Clock) -> str:
    session_id = uuid.uuid4().hex
    expires_at = int((clock() + 86400) * 1000)
    ns.put(
        f"session:{session_id}",
        json.dumps({"userId": user_id, "expiresAt": expires_at}),
        expiration_ttl=86400,
        metadata={"createdAt": int(clock() * 1000)},
    )
    return session_id


def test_each_test_gets_an_empty_namespace_of_its_own(edgekv_namespace: Namespace) -> None:
    assert edgekv_namespace.list().keys == []
    edgekv_namespace.put("greeting", "hello")
    assert edgekv_namespace.get("greeting") == "hello"


def test_keys_expire_when_the_clock_says(edgekv_namespace: Namespace, edgekv_clock: Clock) -> None:
    session_id = create_session(edgekv_namespace, "user-1", edgekv_clock)
    assert edgekv_namespace.get(f"session:{session_id}", "json")["userId"] == "user-1"
    edgekv_clock.advance(86399)
    assert edgekv_namespace.get(f"session:{session_id}") is not None
    edgekv_clock.advance(1)  # no sleeping: the store reads the test's clock
    assert edgekv_namespace.get(f"session:{session_id}") is None


def test_an_edge_serves_what_it_read_until_cache_ttl(
    edgekv_namespace: Namespace, edgekv_edge_kv: KV, edgekv_clock: Clock
) -> None:
    edge = edgekv_edge_kv.namespace(edgekv_namespace.id)
    edgekv_namespace.put("config:theme", "light")
    assert edge.get("config:theme", cache_ttl=30) == "light"

    edgekv_namespace.put("config:theme", "dark")  # written past the edge, which keeps its copy
    assert edge.get("config:theme", cache_ttl=30) == "light"
    edgekv_clock.advance(30)
    assert edge.get("config:theme", cache_ttl=30) == "dark"  # stale for at most cache_ttl


@pytest.mark.asyncio
async def test_async_code_gets_an_async_namespace(edgekv_async_namespace: AsyncNamespace) -> None:
    await edgekv_async_namespace.put("k", "v", metadata={"v": 1})
    got = await edgekv_async_namespace.get_with_metadata("k")
    assert (got.value, got.metadata) == ("v", {"v": 1})


def test_a_running_server_answers_the_rest_api(edgekv_server: EdgeKVServer) -> None:
    with edgekv_server.kv() as kv:  # the Python API over the server's REST API
        ns = kv.create_namespace(f"example-{uuid.uuid4().hex[:8]}")
        ns.put("greeting", "hello")
    response = httpx.get(
        f"{edgekv_server.rest_url}/accounts/{edgekv_server.account_id}"
        f"/storage/kv/namespaces/{ns.id}/values/greeting",
        headers={"Authorization": f"Bearer {edgekv_server.token}"},
    )
    assert response.text == "hello"
    assert edgekv_server.workerd_port  # bind a workerd worker with workerd_service(name, ns.id)
