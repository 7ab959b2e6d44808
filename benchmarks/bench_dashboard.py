"""Issue 14 figure: the dashboard's first page of a 1,000,000-key namespace, against listing the
same page through the REST API, from the same `edgekv serve` in the same run.

Subject: `GET /dashboard/namespaces/{id}` signed in (the session cookie), which renders the
first 100 keys as HTML; and the same for a prefix deep in the namespace (`?prefix=user:0050`, the middle 10,000).
Anchor: `GET .../keys?limit=100&extensions=true` (and `&prefix=user:0050`) with a bearer token:
the JSON page a script would read, with the same size and last write per key the page shows. One keep-alive client each, requests one after another, rounds interleaved,
the median round reported. EDGEKV_BENCH_LIST_KEYS sets the namespace's size.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import server_procs
from benchmarks.harness import interleaved, report, report_absolute
from edgekv import KV
from edgekv.cli.store_choice import data_dir_store_url

KEYS = int(os.environ.get("EDGEKV_BENCH_LIST_KEYS", "1000000"))
REQUESTS = 200  # per round
PAGE = 100


def fill(data: Path) -> tuple[str, str]:
    """A namespace of KEYS keys (`user:00000000`...), metadata on every tenth: (account, id)."""
    with KV(data_dir_store_url(data)) as kv:
        ns = kv.create_namespace("big")
        batch: list[dict[str, object]] = []
        for i in range(KEYS):
            item: dict[str, object] = {"key": f"user:{i:08d}", "value": "x" * 64}
            if i % 10 == 0:
                item["metadata"] = {"plan": "pro", "n": i}
            batch.append(item)
            if len(batch) == 10_000:
                ns.bulk_put(batch)
                batch = []
        if batch:
            ns.bulk_put(batch)
        return kv.account_id, ns.id


def sign_in(client: httpx.Client, url: str, token: str) -> None:
    form = client.get(f"{url}/dashboard/signin")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
    assert nonce is not None
    answer = client.post(
        f"{url}/dashboard/signin",
        data={"token": token, "nonce": nonce.group(1), "next": "/dashboard/"},
    )
    assert answer.status_code == 303, answer.text


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="edgekv-bench-dashboard-"))
    data = work / "data"
    data.mkdir()
    started = time.perf_counter()
    account_id, namespace_id = fill(data)
    print(f"({KEYS:,} keys written in {time.perf_counter() - started:.0f} s)", flush=True)
    token = server_procs.edgekv_admin(data, "token", "create", "--name", "bench")
    served = server_procs.start_edgekv(data)
    try:
        browser = httpx.Client(timeout=30)
        script = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        sign_in(browser, served.url, token)
        page = f"{served.url}/dashboard/namespaces/{namespace_id}"
        keys = (
            f"{served.url}/client/v4/accounts/{account_id}/storage/kv/namespaces/"
            f"{namespace_id}/keys?limit={PAGE}&extensions=true"
        )
        deep = f"user:{KEYS // 2 // 10_000:04d}"  # 10,000 keys in the middle: user:0050 of 1M

        def check(answer: httpx.Response, expected: str) -> None:
            assert answer.status_code == 200 and expected in answer.text, answer.text[:300]

        check(browser.get(page), "user:00000099")
        check(script.get(keys), "user:00000099")
        check(browser.get(page, params={"prefix": deep}), f"{deep}0099")
        check(script.get(keys, params={"prefix": deep}), f"{deep}0099")

        def run(client: httpx.Client, url: str, params: dict[str, str]) -> None:
            for _ in range(REQUESTS):
                client.get(url, params=params).raise_for_status()

        timed = interleaved(
            {
                "REST list of the first page": lambda: run(script, keys, {}),
                "dashboard first page": lambda: run(browser, page, {}),
                "REST list by prefix": lambda: run(script, keys, {"prefix": deep}),
                "dashboard by prefix": lambda: run(browser, page, {"prefix": deep}),
            },
            REQUESTS,
            rounds=5,
        )
        print(
            f"{REQUESTS} requests a round, one after another over one connection, "
            f"5 rounds, medians; {PAGE} keys a page",
            flush=True,
        )
        ok = report(
            f"dashboard: first page of a {KEYS:,}-key namespace (HTML)",
            timed["dashboard first page"],
            [(timed["REST list of the first page"], 2.0)],
            unit="ms",
        )
        ok &= report(
            f"dashboard: a page by prefix deep in {KEYS:,} keys (HTML)",
            timed["dashboard by prefix"],
            [(timed["REST list by prefix"], 2.0)],
            unit="ms",
        )
        ok &= report_absolute(
            "dashboard: first page, absolute", timed["dashboard first page"], 50.0
        )
        browser.close()
        script.close()
        return ok
    finally:
        served.stop()


if __name__ == "__main__":
    main()
