"""`edgekv serve --metrics-port`: a live server's /metrics after a known workload, read with
prometheus_client's own parser."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client.samples import Sample

from edgekv.model import DEFAULT_ACCOUNT
from tests.server.metrics_server import scrape, serving_metrics, value
from tests.server.test_serve import EDGEKV, _env, serving
from tests.stores import backends
from tests.tcpproxy import TcpProxy

VALUES = "/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key}"
NAMESPACES = "/client/v4/accounts/{account_id}/storage/kv/namespaces"


def test_metrics_after_a_workload(tmp_path: Path) -> None:
    with serving_metrics(tmp_path) as served, httpx.Client() as http:
        ns = served.namespace("metrics")
        url = served.values_url(ns, "greeting")
        assert http.put(url, content=b"hello").status_code == 200
        assert http.get(url).content == b"hello"
        # The server's own records (namespaces, tokens) are edge reads too: count from here.
        before = scrape(served.metrics_url)["edgekv_edge_reads"]
        for _ in range(5):  # the edge took the write: every read is a HIT
            assert http.get(url).content == b"hello"
        strong = http.get(url, headers={"Cache-Control": "no-cache"})
        assert strong.headers["cf-cache-status"] == "BYPASS"
        assert http.get(served.values_url(ns, "missing")).status_code == 404  # a MISS
        assert http.get(f"{served.url}/client/v4/no/such/route").status_code == 404
        listed = http.get(f"{served.url}/client/v4/accounts/{served.account}/storage/kv/namespaces")
        assert listed.status_code == 200
        assert http.get(f"{served.url}/dashboard/static/no-such-file.js").status_code == 404
        assert http.get(f"{served.url}/dashboard/static/nor-this.css").status_code == 404

        families = scrape(served.metrics_url)

    requests = families["edgekv_http_requests"]
    assert (
        value(requests, "edgekv_http_requests_total", route=VALUES, method="GET", status="200") == 7
    )
    assert (
        value(requests, "edgekv_http_requests_total", route=VALUES, method="GET", status="404") == 1
    )
    assert (
        value(requests, "edgekv_http_requests_total", route=VALUES, method="PUT", status="200") == 1
    )
    assert value(requests, "edgekv_http_requests_total", route=NAMESPACES, method="GET") == 1
    assert value(requests, "edgekv_http_requests_total", route=NAMESPACES, method="POST") == 1
    assert value(requests, "edgekv_http_requests_total", route="unmatched", status="404") == 1
    # Under a mount, the mount's template; static files are one series, whatever the file.
    static = "/dashboard/static/{path}"
    assert value(requests, "edgekv_http_requests_total", route=static, status="404") == 2
    # The raw path never becomes a label: no namespace id, no key.
    assert all(ns not in s.labels["route"] for s in requests)

    latency = families["edgekv_http_request_duration_seconds"]
    assert (
        value(latency, "edgekv_http_request_duration_seconds_count", route=VALUES, method="GET")
        == 8
    )
    assert (
        value(
            latency,
            "edgekv_http_request_duration_seconds_bucket",
            route=VALUES,
            method="GET",
            le="+Inf",
        )
        == 8
    )
    total = value(latency, "edgekv_http_request_duration_seconds_sum", route=VALUES, method="GET")
    assert total is not None and total > 0

    reads = families["edgekv_edge_reads"]

    def more(result: str) -> float:
        now = value(reads, "edgekv_edge_reads_total", result=result)
        then = value(before, "edgekv_edge_reads_total", result=result)
        assert now is not None and then is not None
        return now - then

    assert more("HIT") == 5
    assert more("BYPASS") == 1
    assert more("MISS") == 1
    assert more("STALE") == 0
    assert more("EXPIRED") == 0

    cached = value(families["edgekv_cache_items"], "edgekv_cache_items")
    assert cached is not None and cached >= 2  # the value and the known-missing key
    cache_bytes = value(families["edgekv_cache_bytes"], "edgekv_cache_bytes")
    assert cache_bytes is not None and cache_bytes > len(b"hello")
    assert value(families["edgekv_cache_evictions"], "edgekv_cache_evictions_total") == 0
    assert value(families["edgekv_feed_healthy"], "edgekv_feed_healthy") == 1
    assert value(families["edgekv_feed_reconnects"], "edgekv_feed_reconnects_total") == 0
    lag = value(families["edgekv_feed_lag_seconds"], "edgekv_feed_lag_seconds")
    assert lag is not None and lag >= 0
    behind = value(families["edgekv_feed_changes_behind"], "edgekv_feed_changes_behind")
    assert behind is not None and 0 <= behind <= 1000
    assert "edgekv_store_unavailable" in families
    assert "process_resident_memory_bytes" in families


def test_usage_counters(tmp_path: Path) -> None:
    """The usage log's counts (as Cloudflare bills them) are series too, as of its last flush."""
    with serving_metrics(tmp_path) as served, httpx.Client() as http:
        ns = served.namespace("usage")
        url = served.values_url(ns, "k")
        assert http.put(url, content=b"12345").status_code == 200
        for _ in range(3):
            assert http.get(url).content == b"12345"
        assert http.delete(url).status_code == 200

        def usage(action: str, name: str = "edgekv_usage_operations") -> float | None:
            family = scrape(served.metrics_url).get(name, [])
            return value(family, name + "_total", namespace_id=ns, action=action)

        deadline = time.monotonic() + 15  # counts are flushed every 2 s
        while usage("delete") != 1:
            assert time.monotonic() < deadline, "usage never reached /metrics"
            time.sleep(0.2)
        assert usage("write") == 1
        assert usage("read") == 3
        assert usage("read", "edgekv_usage_bytes") == 15
        assert usage("write", "edgekv_usage_bytes") == 5
        assert usage("read", "edgekv_usage_edge_hits") == 3  # the edge took the write


def test_metrics_port_serves_only_metrics(tmp_path: Path) -> None:
    with serving_metrics(tmp_path) as served:
        base = served.metrics_url.removesuffix("/metrics")
        assert base.startswith("http://127.0.0.1:")
        assert httpx.get(base + "/").status_code == 404
        assert httpx.post(served.metrics_url).status_code == 405
        # ...and the API's port has no /metrics.
        assert httpx.get(served.url + "/metrics").status_code == 404


def test_store_faults_and_feed_reconnects(tmp_path: Path) -> None:
    """A central Redis behind a proxy the test cuts: the 503s are counted by reason, the feed's
    cut shows, and so does its reconnection."""
    store = backends.redis_url()
    parts = urlsplit(store)
    assert parts.port is not None
    with TcpProxy(parts.port) as proxy:
        url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
        with serving_metrics(tmp_path, "--store", url) as served, httpx.Client() as http:
            ns = served.namespace("faults")
            key = served.values_url(ns, "k")
            assert http.put(key, content=b"v").status_code == 200
            proxy.cut()
            strong = http.get(key, headers={"Cache-Control": "no-cache"})
            assert strong.status_code == 503
            cut = _until(served.metrics_url, lambda f: _one(f, "edgekv_feed_healthy") == 0)
            faults = cut["edgekv_store_unavailable"]
            assert sum(s.value for s in faults if s.name.endswith("_total")) >= 1
            assert all(s.labels["reason"] for s in faults)
            proxy.resume()
            back = _until(served.metrics_url, lambda f: _one(f, "edgekv_feed_healthy") == 1)
            assert _one(back, "edgekv_feed_reconnects", "_total") >= 1
            assert http.get(key, headers={"Cache-Control": "no-cache"}).content == b"v"


def _one(families: dict[str, list[Sample]], name: str, suffix: str = "") -> float:
    found = value(families[name], name + suffix)
    assert found is not None
    return found


def _until(
    url: str, ready: Callable[[dict[str, list[Sample]]], bool], seconds: float = 30.0
) -> dict[str, list[Sample]]:
    """Scrapes until `ready` holds (the feed notices a cut within its wait, 0.5 s)."""
    deadline = time.monotonic() + seconds
    while True:
        families = scrape(url)
        if ready(families):
            return families
        assert time.monotonic() < deadline, "the metrics never showed it"
        time.sleep(0.1)


def test_each_worker_serves_its_own_metrics(tmp_path: Path) -> None:
    """`--workers 2 --metrics-port P`: worker i on P+i, each counting the requests it took."""
    first = _free_port_pair()
    with serving(tmp_path, "--no-auth", "--workers", "2", "--metrics-port", str(first)) as (
        _,
        url,
        _lines,
    ):
        listed = f"{url}/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"
        with httpx.Client() as http:
            for _ in range(20):  # new connections: the kernel spreads them over the workers
                assert http.get(listed, headers={"Connection": "close"}).status_code == 200
        counted = 0.0
        for port in (first, first + 1):
            families = scrape(f"http://127.0.0.1:{port}/metrics")
            counted += (
                value(
                    families["edgekv_http_requests"], "edgekv_http_requests_total", route=NAMESPACES
                )
                or 0.0
            )
        assert counted == 20


def test_metrics_port_zero_needs_one_worker(tmp_path: Path) -> None:
    done = subprocess.run(
        [*EDGEKV, "serve", "--port", "0", "--workers", "2", "--metrics-port", "0"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--metrics-port 0 needs --workers 1" in done.stderr


def _free_port_pair() -> int:
    """A port P with P+1 free too (as free as a port can be before it is bound)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise AssertionError("no two free ports in a row")
