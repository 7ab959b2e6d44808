"""`edgekv serve --limits`: Workers KV's limits on demand, with Cloudflare's errors, and none of
them without the flag. A live server (uvicorn on a loopback port) on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from edgekv.server.app import create_app
from edgekv.server.cloudflare_limits import PLANS, Plan
from tests.clock import FakeClock
from tests.server.conftest import run_server
from tests.server.test_serve import serving

DAY = 86_400
QUOTA = "your account has reached the free usage limit for this operation for today"


class Server:
    def __init__(self, url: str, account: str, workerd_port: int, clock: FakeClock) -> None:
        self.http = httpx.Client(
            base_url=f"{url}/client/v4/accounts/{account}/storage/kv", timeout=30
        )
        self.workerd = f"http://127.0.0.1:{workerd_port}"
        self.clock = clock
        answer = self.http.post("/namespaces", json={"title": "limits"})
        assert answer.status_code == 200, answer.text
        self.ns = f"/namespaces/{answer.json()['result']['id']}"

    def put(self, key: str, value: bytes = b"v") -> httpx.Response:
        return self.http.put(f"{self.ns}/values/{key}", content=value)


@contextmanager
def server(tmp_path: Path, plan: Plan | None) -> Iterator[Server]:
    clock = FakeClock(1_800_000_000.0 - 1_800_000_000.0 % DAY + 3_600)  # 01:00 UTC
    app = create_app(
        f"sqlite:///{tmp_path / 'kv.db'}",
        auth=False,
        clock=clock,
        cache_size=8 << 20,
        limits=plan,
        workerd_listen=("127.0.0.1", 0),
    )
    uvicorn, thread, port = run_server(app)
    try:
        running = Server(
            f"http://127.0.0.1:{port}", app.state.account_id, app.state.workerd_port, clock
        )
        try:
            yield running
        finally:
            running.http.close()
    finally:
        uvicorn.should_exit = True
        thread.join(30)


def error(answer: httpx.Response) -> tuple[int, int, str]:
    body = answer.json()
    assert body["success"] is False
    return answer.status_code, body["errors"][0]["code"], body["errors"][0]["message"]


@pytest.mark.parametrize("plan", ["cloudflare-free", "cloudflare-paid", None])
def test_one_write_per_second_per_key(tmp_path: Path, plan: str | None) -> None:
    with server(tmp_path, PLANS[plan] if plan else None) as kv:
        assert kv.put("k").status_code == 200
        again = kv.put("k")
        if plan is None:
            assert again.status_code == 200  # no limit without --limits
            return
        assert error(again) == (429, 10103, "Too Many Requests")
        assert kv.put("other").status_code == 200  # another key is another limit
        bulk = kv.http.put(f"{kv.ns}/bulk", json=[{"key": "k", "value": "b"}])
        assert bulk.status_code == 429  # a bulk write holds to it too
        kv.clock.advance(0.999)
        assert kv.put("k").status_code == 429
        kv.clock.advance(0.001)
        assert kv.put("k").status_code == 200
        assert kv.http.get(f"{kv.ns}/values/k").content == b"v"
        # A Worker reads workerd's error from the status line: Cloudflare's own words.
        workerd = httpx.put(
            f"{kv.workerd}/k", content=b"w", headers={"X-EdgeKV-Namespace": "limits"}
        )
        assert (workerd.status_code, workerd.reason_phrase) == (429, "Too Many Requests")


def test_free_plan_daily_write_quota_and_its_reset(tmp_path: Path) -> None:
    with server(tmp_path, PLANS["cloudflare-free"]) as kv:
        pairs = [{"key": f"k{i}", "value": "v"} for i in range(1000)]
        assert kv.http.put(f"{kv.ns}/bulk", json=pairs).status_code == 200  # 1,000 writes
        assert error(kv.put("one-more")) == (429, 10048, QUOTA)
        assert kv.http.get(f"{kv.ns}/values/k1").content == b"v"  # reads have their own quota
        kv.clock.advance(23 * 3600)  # 00:00 UTC: a new day
        assert kv.put("one-more").status_code == 200


def test_free_plan_daily_read_delete_and_list_quotas(tmp_path: Path) -> None:
    with server(tmp_path, PLANS["cloudflare-free"]) as kv:
        keys = [f"k{i}" for i in range(100)]
        assert (
            kv.http.put(f"{kv.ns}/bulk", json=[{"key": k, "value": "v"} for k in keys]).status_code
            == 200
        )
        reads = kv.http.get(f"{kv.ns}/values/k0")  # a read served from the edge's memory counts
        assert reads.status_code == 200 and reads.headers["cf-cache-status"] == "HIT"
        for _ in range(999):  # each key of a bulk read is a read: 1 + 999 x 100 = 99,901
            assert kv.http.post(f"{kv.ns}/bulk/get", json={"keys": keys}).status_code == 200
        for _ in range(99):
            assert kv.http.get(f"{kv.ns}/values/k1").status_code == 200
        assert error(kv.http.get(f"{kv.ns}/values/k1")) == (429, 10048, QUOTA)

        for _ in range(1000):
            assert kv.http.get(f"{kv.ns}/keys", params={"limit": 10}).status_code == 200
        assert error(kv.http.get(f"{kv.ns}/keys")) == (429, 10048, QUOTA)

        deleted = kv.http.post(f"{kv.ns}/bulk/delete", json=[f"gone{i}" for i in range(1000)])
        assert deleted.status_code == 200
        assert error(kv.http.delete(f"{kv.ns}/values/k0")) == (429, 10048, QUOTA)


def test_without_limits_no_quota(tmp_path: Path) -> None:
    with server(tmp_path, None) as kv:
        pairs = [{"key": f"k{i}", "value": "v"} for i in range(1000)]
        assert kv.http.put(f"{kv.ns}/bulk", json=pairs).status_code == 200
        assert kv.put("one-more").status_code == 200


def test_storage_cap(tmp_path: Path) -> None:
    """The Free plan's cap (1 GB) is checked as any cap: here a plan with a small one."""
    with server(tmp_path, Plan("small", storage_bytes=10_000)) as kv:
        assert kv.put("a", b"x" * 6_000).status_code == 200
        assert error(kv.put("b", b"x" * 6_000)) == (429, 10048, QUOTA)
        assert kv.put("c", b"x" * 3_000).status_code == 200


def test_the_flag(tmp_path: Path) -> None:
    """`edgekv serve --limits cloudflare-free`, as users run it: the startup line, and a second
    write to a key right after the first refused."""
    with serving(tmp_path, "--no-auth", "--limits", "cloudflare-free") as (proc, url, _lines):
        assert proc.stdout is not None
        shown = proc.stdout.readline()
        while "limits:" not in shown and shown:
            shown = proc.stdout.readline()
        assert "limits: cloudflare-free" in shown
        base = f"{url}/client/v4/accounts/{'0' * 31}1/storage/kv/namespaces"
        ns = httpx.post(base, json={"title": "t"}).json()["result"]["id"]
        answers = [httpx.put(f"{base}/{ns}/values/k", content=b"v").status_code for _ in range(5)]
        assert answers[0] == 200 and 429 in answers
