"""`edgekv analytics`, run as users run it (a subprocess) after a known workload served by a
real `edgekv serve`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgekv.testing.server import _EDGEKV, EdgeKVServer, clean_env

PAIRS = 1001  # one over the Free plan's 1,000 writes a day


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EdgeKVServer, str]]:
    with EdgeKVServer(tmp_path_factory.mktemp("report"), workerd=False) as server:
        found = re.search(r"[0-9a-f]{32}", server.edgekv("kv", "namespace", "create", "sessions"))
        assert found is not None
        namespace = found.group(0)
        base = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces/{namespace}"
        auth = {"Authorization": f"Bearer {server.token}"}
        with httpx.Client(headers=auth, timeout=30) as http:
            # Deletes first (of keys not there: billed all the same), so the stored bytes only
            # grow and every sample of the hour is at most the last.
            assert http.post(f"{base}/bulk/delete", json=["gone1", "gone2"]).status_code == 200
            pairs = [{"key": f"s{i:04d}", "value": "x" * 10} for i in range(PAIRS)]
            assert http.put(f"{base}/bulk", json=pairs).status_code == 200
            for _ in range(10):  # the same key: the edges answer from memory after a miss
                assert http.get(f"{base}/values/s0000").content == b"x" * 10
            assert http.get(f"{base}/keys").status_code == 200
        yield server, namespace


def _analytics(server: EdgeKVServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_EDGEKV, "analytics", *args, "--store", server.store_url],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )


def _report(server: EdgeKVServer, *args: str) -> dict[str, Any]:
    """The JSON report, once every worker flushed the workload (each does every 2 s)."""
    deadline = time.monotonic() + 20
    while True:
        done = _analytics(server, "--json", *args)
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        total = report["total"]
        counts = (total["reads"], total["writes"], total["deletes"], total["lists"])
        if counts == (10, PAIRS, 2, 1) or time.monotonic() > deadline:
            return report
        time.sleep(0.3)


def test_the_report_counts_costs_and_free_plan_days(served: tuple[EdgeKVServer, str]) -> None:
    server, namespace = served
    report = _report(server, "--namespace", "sessions")
    assert [n["namespace_id"] for n in report["namespaces"]] == [namespace]
    ns = report["namespaces"][0]
    assert (ns["reads"], ns["writes"], ns["deletes"], ns["lists"]) == (10, PAIRS, 2, 1)
    assert ns["bytes_written"] == PAIRS * 10 and ns["bytes_read"] == 10 * 10
    assert ns["stored_keys"] == PAIRS and ns["stored_bytes"] == PAIRS * 10
    assert 0.8 <= ns["hit_rate"] <= 1.0  # a miss per worker at most, then hits
    assert ns["cost"]["total"] == 0  # within Workers Paid's allowances
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert ns["free_plan_exceeded"] == [{"date": today, "exceeded": ["writes"]}]
    assert report["prices"]["as_of"] and report["prices"]["write_per_million"] == 5.0


def test_prices_are_overridden_by_flags_and_files(
    served: tuple[EdgeKVServer, str], tmp_path: Path
) -> None:
    server, _ = served
    flags = _report(server, "--price", "included_writes=0", "--price", "write_per_million=2")
    assert flags["total"]["cost"]["writes"] == pytest.approx(PAIRS / 1e6 * 2)
    prices = tmp_path / "prices.toml"
    prices.write_text('as_of = "2027-01-01"\nincluded_reads = 0\nread_per_million = 1000.0\n')
    filed = _report(server, "--prices", str(prices))
    assert filed["prices"]["as_of"] == "2027-01-01"
    assert filed["total"]["cost"]["reads"] == pytest.approx(10 / 1e6 * 1000)
    bad = _analytics(server, "--price", "nonsense=1")
    assert bad.returncode != 0 and "Unknown price 'nonsense'" in bad.stderr


def test_the_table(served: tuple[EdgeKVServer, str]) -> None:
    server, _ = served
    _report(server)  # flushed
    done = _analytics(server)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    row = next(line for line in lines if line.startswith("sessions"))
    assert row.split()[1:5] == ["10", f"{PAIRS:,}", "2", "1"]
    assert "Free plan daily limits exceeded on:" in done.stdout
    assert re.search(r"\d{4}-\d{2}-\d{2}: writes", done.stdout)
    missing = _analytics(server, "--namespace", "nope")
    assert missing.returncode == 1 and 'No namespace "nope"' in missing.stderr
    month = _analytics(server, "--month", "2026-13")
    assert month.returncode == 1 and "YYYY-MM" in month.stderr
