"""`POST /client/v4/graphql`: Cloudflare's GraphQL Analytics API for Workers KV, against a live
`edgekv serve`, from the seed's Node script and from plain HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgekv.testing.server import EdgeKVServer

ROOT = Path(__file__).resolve().parents[2]
ESBUILD = ROOT / "tests" / "e2e" / "node" / "node_modules" / ".bin" / "esbuild"
SEED = Path(__file__).parent / "seed"
VALUE = b"v" * 100


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EdgeKVServer, str]]:
    """A server and a namespace with a known workload: 4 writes (400 bytes... less one
    deleted), 1 delete, 3 reads (one of a missing key), 1 list."""
    with EdgeKVServer(tmp_path_factory.mktemp("graphql"), workerd=False) as server:
        found = re.search(r"[0-9a-f]{32}", server.edgekv("kv", "namespace", "create", "metrics"))
        assert found is not None
        namespace = found.group(0)
        base = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces/{namespace}"
        with httpx.Client(headers=_auth(server), timeout=30) as http:
            # Stored bytes only grow after the delete, so any sample is <= the last one.
            assert http.put(f"{base}/values/tmp", content=b"t").status_code == 200
            assert http.delete(f"{base}/values/tmp").status_code == 200
            for key in ("k1", "k2", "k3"):
                assert http.put(f"{base}/values/{key}", content=VALUE).status_code == 200
            assert http.get(f"{base}/values/k1").content == VALUE
            assert http.get(f"{base}/values/k2").content == VALUE
            assert http.get(f"{base}/values/nope").status_code == 404
            assert http.get(f"{base}/keys").status_code == 200
        _wait_for_flushes(server, requests=4 + 1 + 3 + 1)
        yield server, namespace


def _wait_for_flushes(server: EdgeKVServer, requests: int) -> None:
    """Until every worker of the server has written its counts (each flushes every 2 s; the
    one answering a query, before it answers)."""
    query = (
        "query($a: string!) { viewer { accounts(filter: {accountTag: $a}) { "
        "kvOperationsAdaptiveGroups(limit: 1) { sum { requests } } } } }"
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = _query(server, query, {"a": server.account_id})
        groups = body["data"]["viewer"]["accounts"][0]["kvOperationsAdaptiveGroups"]
        if groups and groups[0]["sum"]["requests"] >= requests:
            return
        time.sleep(0.2)
    raise AssertionError(f"the counts never reached {requests}: {body}")


def _auth(server: EdgeKVServer, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or server.token}"}


def _query(
    server: EdgeKVServer, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.rest_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=kw.get("headers", _auth(server)),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _node_script(tmp_path: Path, name: str) -> Path:
    if shutil.which("node") is None or not ESBUILD.exists():
        if os.environ.get("CI"):
            pytest.fail("node and esbuild (npm ci --prefix tests/e2e/node) are needed")
        pytest.skip("node and esbuild (npm ci --prefix tests/e2e/node) are not available")
    # The seed's TypeScript, types stripped by esbuild (Node 20 runs no TypeScript).
    compiled = tmp_path / f"{name}.mjs"
    subprocess.run(
        [str(ESBUILD), str(SEED / f"{name}.ts"), "--format=esm", f"--outfile={compiled}"],
        check=True,
        capture_output=True,
    )
    runner = tmp_path / f"run_{name}.mjs"
    runner.write_text(
        f"import {{ fetchKVMetrics }} from './{name}.mjs';\n"
        "const [account, token, namespace] = process.argv.slice(2);\n"
        "console.log(JSON.stringify(await fetchKVMetrics(account, token, namespace)));\n"
    )
    return runner


def _run_node(
    runner: Path, server: EdgeKVServer, namespace: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(runner), server.account_id, server.token, namespace],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "EDGEKV_URL": server.url},
    )


def test_the_seed_script_with_cloudflares_query_reports_the_workload(
    served: tuple[EdgeKVServer, str], tmp_path: Path
) -> None:
    server, namespace = served
    done = _run_node(_node_script(tmp_path, "kv_analytics_corrected"), server, namespace)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["reads"] == 3  # a read of a missing key is billed too
    assert metrics["writes"] == 4
    assert metrics["deletes"] == 1
    assert metrics["storageBytes"] == 3 * len(VALUE)
    assert metrics["storageKeys"] == 3
    assert metrics["estimatedCost"] == 0  # well within the included allowances


def test_the_seed_query_as_written_fails_as_on_cloudflare(
    served: tuple[EdgeKVServer, str], tmp_path: Path
) -> None:
    server, namespace = served
    done = _run_node(_node_script(tmp_path, "kv_analytics"), server, namespace)
    assert done.returncode != 0  # `data` is null: the script reads `data.data.viewer`
    assert "reading 'viewer'" in done.stderr
    seed = (SEED / "kv_analytics.ts").read_text()
    query = seed.split("const query = `")[1].split("`;")[0].replace("${", "{")
    query = re.sub(r'date_geq: "\{[^"]*"', 'date_geq: "2026-11-03T10:00:00.000Z"', query)
    body = _query(server, query, {"accountId": server.account_id, "namespaceId": namespace})
    assert body["data"] is None
    messages = " ".join(e["message"] for e in body["errors"])
    assert "storedBytes" in messages  # max { byteCount keyCount } in Cloudflare's schema
    assert "Date" in messages  # date_geq takes YYYY-MM-DD, not a timestamp


_CLOUDFLARE_FIELDS = {
    "AccountKvOperationsAdaptiveGroupsSum": {"requests", "objectBytes"},
    "AccountKvOperationsAdaptiveGroupsDimensions": {
        "actionType",
        "date",
        "datetime",
        "datetimeHour",
        "namespaceId",
    },
    "AccountKvStorageAdaptiveGroupsMax": {"byteCount", "keyCount"},
    "AccountKvStorageAdaptiveGroupsDimensions": {"date", "datetime", "datetimeHour", "namespaceId"},
    "account": {"kvOperationsAdaptiveGroups", "kvStorageAdaptiveGroups"},
}


def test_introspection_shows_cloudflares_names(served: tuple[EdgeKVServer, str]) -> None:
    server, _ = served
    for type_name, fields in _CLOUDFLARE_FIELDS.items():
        body = _query(
            server, "query($n: String!) { __type(name: $n) { fields { name } } }", {"n": type_name}
        )
        assert {f["name"] for f in body["data"]["__type"]["fields"]} == fields
    body = _query(
        server,
        '{ __type(name: "AccountKvOperationsAdaptiveGroupsFilter_InputObject") '
        "{ inputFields { name } } }",
    )
    names = {f["name"] for f in body["data"]["__type"]["inputFields"]}
    assert {"namespaceId", "namespaceId_in", "date_geq", "date_leq", "datetime_geq"} <= names
    assert {"datetime_leq", "actionType", "actionType_in", "AND", "OR"} <= names


def test_filters_groups_order_and_limit(served: tuple[EdgeKVServer, str]) -> None:
    server, namespace = served
    query = """query($a: string!, $ns: [string!]) { viewer { accounts(filter: {accountTag: $a}) {
      kvOperationsAdaptiveGroups(filter: {namespaceId_in: $ns, actionType_neq: "list"},
                                 limit: 2, orderBy: [sum_requests_DESC]) {
        sum { requests objectBytes } dimensions { actionType namespaceId date }
      } } } }"""
    body = _query(server, query, {"a": server.account_id, "ns": [namespace]})
    assert body["errors"] is None
    groups = body["data"]["viewer"]["accounts"][0]["kvOperationsAdaptiveGroups"]
    assert [(g["dimensions"]["actionType"], g["sum"]["requests"]) for g in groups] == [
        ("write", 4),
        ("read", 3),
    ]
    assert groups[0]["sum"]["objectBytes"] == 1 + 3 * len(VALUE)
    assert groups[1]["sum"]["objectBytes"] == 2 * len(VALUE)
    # no dimensions: one group, every action added up
    total = _query(
        server,
        "query($a: string!) { viewer { accounts(filter: {accountTag: $a}) { "
        'kvOperationsAdaptiveGroups(limit: 10, filter: {actionType: "list"}) { sum { requests } } } } }',
        {"a": server.account_id},
    )
    assert total["data"]["viewer"]["accounts"][0]["kvOperationsAdaptiveGroups"] == [
        {"sum": {"requests": 1}}
    ]


def test_errors_are_graphql_errors(served: tuple[EdgeKVServer, str]) -> None:
    server, _ = served
    body = _query(server, '{ viewer { accounts(filter: {accountTag: "x"}) { nope } } }')
    assert body["data"] is None and "nope" in body["errors"][0]["message"]
    other = server.edgekv("account", "create", "other").split()[-1]
    body = _query(
        server,
        "query($a: string!) { viewer { accounts(filter: {accountTag: $a}) { "
        "kvStorageAdaptiveGroups(limit: 1) { max { byteCount } } } } }",
        {"a": other},
    )
    assert body["errors"][0]["extensions"]["code"] == "authz"
    assert body["errors"][0]["path"] == ["viewer", "accounts"]
    unauthenticated = httpx.post(
        f"{server.rest_url}/graphql", json={"query": "{ viewer { __typename } }"}
    )
    assert unauthenticated.status_code == 401


def test_a_namespace_scoped_token_sees_its_namespaces_only(
    served: tuple[EdgeKVServer, str],
) -> None:
    server, namespace = served
    found = re.search(r"[0-9a-f]{32}", server.edgekv("kv", "namespace", "create", "elsewhere"))
    assert found is not None
    other = found.group(0)
    base = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces/{other}"
    assert httpx.put(f"{base}/values/x", content=b"1", headers=_auth(server)).status_code == 200
    query = (
        "query($a: string!) { viewer { accounts(filter: {accountTag: $a}) { "
        "kvOperationsAdaptiveGroups(limit: 100) { dimensions { namespaceId } } } } }"
    )

    def seen(token: str) -> set[str]:
        body = _query(server, query, {"a": server.account_id}, headers=_auth(server, token))
        groups = body["data"]["viewer"]["accounts"][0]["kvOperationsAdaptiveGroups"]
        return {g["dimensions"]["namespaceId"] for g in groups}

    deadline = time.monotonic() + 20  # until the other worker's write is flushed
    while other not in seen(server.token) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert seen(server.token) == {namespace, other}
    scoped = server.edgekv("token", "create", "--namespace", "metrics").split()[-1]
    assert seen(scoped) == {namespace}
