"""Usage counted the way Cloudflare bills it, by real `edgekv serve` processes in front of one
store, read back from the store after their last flush (at shutdown)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx

from edgekv.analytics import UsageLog
from edgekv.analytics.log import OperationCount
from edgekv.cli.store_choice import data_dir_store_url
from edgekv.stores._async.urls import store_from_url
from edgekv.testing.server import _EDGEKV, EdgeKVServer, clean_env, spawn_serve


def _workload(server: EdgeKVServer, namespace: str) -> None:
    base = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces/{namespace}"
    auth = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(headers=auth, timeout=30) as http:
        assert http.put(f"{base}/values/a", content=b"12345").status_code == 200
        assert http.put(f"{base}/values/b", content=b"xyz").status_code == 200
        assert http.get(f"{base}/values/a").content == b"12345"
        assert http.get(f"{base}/values/missing").status_code == 404  # billed as a read too
        pairs = [{"key": f"k{i}", "value": "v" * 10} for i in range(4)]
        assert http.put(f"{base}/bulk", json=pairs).status_code == 200  # four writes
        got = http.post(f"{base}/bulk/get", json={"keys": ["k0", "k1", "nope"]})
        assert got.status_code == 200  # three reads
        assert http.get(f"{base}/keys").status_code == 200  # one list
        assert http.delete(f"{base}/values/b").status_code == 200
        assert http.post(f"{base}/bulk/delete", json=["k2", "k3"]).status_code == 200
        # the workerd protocol (what a Worker's binding sends): counted the same way
        worker = {"X-EdgeKV-Namespace": namespace}
        assert http.put(f"{server.url}/w1", content=b"abcd", headers=worker).status_code == 200
        assert http.get(f"{server.url}/w1", headers=worker).content == b"abcd"
        assert http.get(f"{server.url}/", headers=worker).status_code == 200
        assert http.delete(f"{server.url}/w1", headers=worker).status_code == 200


async def _operations(store_url: str) -> dict[str, OperationCount]:
    store = store_from_url(store_url)
    try:
        log = UsageLog(store)
        now = int(time.time() // 3600)
        return {o.action: o for o in await log.operations(now - 2, now + 1)}
    finally:
        await store.aclose()


def test_two_servers_in_front_of_one_store_count_every_operation_once(tmp_path: Path) -> None:
    with EdgeKVServer(tmp_path / "one", workerd=False) as one:
        namespace = one.edgekv("kv", "namespace", "create", "usage-test")
        found = re.search(r"[0-9a-f]{32}", namespace)
        assert found is not None
        namespace_id = found.group(0)
        store = data_dir_store_url(tmp_path / "one")
        with EdgeKVServer(tmp_path / "two", store=store, workerd=False) as two:
            _workload(one, namespace_id)
            _workload(two, namespace_id)
    ops = asyncio.run(_operations(store))
    # per server: REST reads a, missing, bulk of 3; workerd reads w1
    assert ops["read"].requests == 2 * (2 + 3 + 1)
    assert ops["read"].bytes == 2 * (5 + 10 + 10 + 4)
    assert ops["write"].requests == 2 * (2 + 4 + 1)
    assert ops["write"].bytes == 2 * (5 + 3 + 40 + 4)
    assert ops["delete"].requests == 2 * (1 + 2 + 1)
    assert ops["list"].requests == 2 * 2
    assert {o.namespace_id for o in ops.values()} == {namespace_id}


class _Uncounted(EdgeKVServer):
    """`edgekv serve --no-usage`."""

    def start(self) -> EdgeKVServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = self.edgekv("token", "create", "--name", "pytest")
        command = [*_EDGEKV, "serve", "--host", "127.0.0.1", "--port", "0", "--no-usage"]
        self.process, found = spawn_serve(
            [*command, "--store", self.store_url], self.log, clean_env()
        )
        self.url, self.account_id = found["url"], found["account"]
        return self


def test_no_usage_counts_nothing(tmp_path: Path) -> None:
    with _Uncounted(tmp_path, workerd=False) as server:
        found = re.search(r"[0-9a-f]{32}", server.edgekv("kv", "namespace", "create", "off"))
        assert found is not None
        _workload(server, found.group(0))
    assert asyncio.run(_operations(server.store_url)) == {}
