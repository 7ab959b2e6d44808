"""docs/grafana/edgekv.json against a live server: every series its queries name is one the
server exports, and, scraped by a real Prometheus (Debian's; `make test` installs it), every
query evaluates and the counts are the workload's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.metrics_server import Served, serving_metrics
from tests.services import require

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "edgekv.json"
# A metric name in PromQL: a word followed by a selector, or one of ours anywhere.
_NAME = re.compile(r"\b((?:edgekv|process)_[a-z_]+)\b")
# What each family type's samples are named (text format 0.0.4, as prometheus_client writes).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "summary": ("", "_count", "_sum"),
    "untyped": ("",),
}
GETS = 5


def queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    found += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_metrics(tmp_path_factory.mktemp("grafana")) as running:
        ns = running.namespace("grafana")
        key = running.values_url(ns, "k")
        assert httpx.put(key, content=b"v").status_code == 200
        for _ in range(GETS):
            assert httpx.get(key).status_code == 200
        yield running


def test_every_series_the_dashboard_names_is_exported(served: Served) -> None:
    exported: set[str] = set()
    for family in text_string_to_metric_families(httpx.get(served.metrics_url).text):
        exported.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    named = {name for query in queries() for name in _NAME.findall(query)}
    assert named, "the dashboard names no series"
    assert named <= exported, sorted(named - exported)


def test_prometheus_scrapes_the_server_and_runs_the_dashboards_queries(
    served: Served, tmp_path: Path
) -> None:
    binary = shutil.which("prometheus")
    require(binary is not None, "prometheus (Debian's package; `make test` installs it)")
    assert binary is not None
    target = served.metrics_url.removeprefix("http://").removesuffix("/metrics")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: edgekv\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    api = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{api}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    base = f"http://127.0.0.1:{api}/api/v1"
    try:
        values = 'route=~".*/values/.*", method="GET", status="200"'
        gets = _until(base, f"edgekv_http_requests_total{{{values}}}")
        assert float(gets[0]["value"][1]) == GETS
        hits = _until(base, 'edgekv_edge_reads_total{result="HIT"}')
        assert float(hits[0]["value"][1]) >= GETS
        assert _until(base, 'up{job="edgekv"}')[0]["value"][1] == "1"
        for query in queries():
            # Grafana's variables, as it substitutes them for "All" and a short range.
            promql = (
                query.replace("$__rate_interval", "1m")
                .replace("$job", ".*")
                .replace("$instance", ".*")
            )
            if promql.startswith("label_values("):
                continue  # Grafana's own function, not PromQL
            answer = httpx.get(f"{base}/query", params={"query": promql}).json()
            assert answer["status"] == "success", (query, answer)
    finally:
        proc.terminate()
        proc.wait(30)


def _until(base: str, query: str, seconds: float = 60.0) -> list[dict[str, Any]]:
    """The query's result once Prometheus has scraped a sample of it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = httpx.get(f"{base}/query", params={"query": query}).json()
            if answer["status"] == "success" and answer["data"]["result"]:
                result: list[dict[str, Any]] = answer["data"]["result"]
                return result
        except httpx.HTTPError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"Prometheus never had {query}"
        time.sleep(0.2)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
