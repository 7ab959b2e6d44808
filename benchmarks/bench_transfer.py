"""Export and import of many small keys (1,000,000 by default) against the REST API's way.

Subjects, each a child process as a user runs it: `edgekv kv export` (JSON Lines, from the
SQLite store) and `edgekv kv import` (checked first, then atomic batches of 10,000). Anchors,
in the same run against a running `edgekv serve` over the same store: what Cloudflare's API
offers to take a namespace out (list pages of 1,000 keys, bulk reads of 100) and to bring one
in (bulk writes of 10,000 pairs), by a plain HTTP client writing and reading the same JSON
Lines. Each figure is one run (a million keys take long enough to average out noise); peak
memory is the child's own maximum resident set (os.wait4), which must not grow with the keys.

EDGEKV_BENCH_TRANSFER_KEYS=100000 for a quick run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import edgekv
from benchmarks.harness import Timed, report
from edgekv.cli.store_choice import sqlite_url
from edgekv.testing import EdgeKVServer

KEYS = int(os.environ.get("EDGEKV_BENCH_TRANSFER_KEYS", "1000000"))
VALUE = '{"id":%d,"name":"item","v":1}'
PEAK_GOAL_MB = 200.0
EDGEKV = [sys.executable, "-c", "import sys; from edgekv.cli import main; sys.exit(main())"]

# The anchors: a plain httpx client doing what the REST API allows, in a child process.
LIST_AND_BULK_GET = r"""
import json, sys, httpx
base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
cursor, written = None, 0
with open(out, "w", encoding="utf-8") as f:
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/keys", params=params).json()
        keys = page["result"]
        for start in range(0, len(keys), 100):
            names = [k["name"] for k in keys[start:start + 100]]
            values = client.post(
                "/bulk/get", json={"keys": names, "type": "text", "withMetadata": True}
            ).json()["result"]["values"]
            for k in keys[start:start + 100]:
                got = values[k["name"]]
                line = {"key": k["name"], "value": got["value"]}
                if got.get("metadata") is not None:
                    line["metadata"] = got["metadata"]
                if "expiration" in k:
                    line["expiration"] = k["expiration"]
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
                written += 1
        cursor = (page.get("result_info") or {}).get("cursor")
        if not cursor:
            break
print(written)
"""

BULK_PUT = r"""
import json, sys, httpx
base, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
batch, written = [], 0
with open(path, encoding="utf-8") as f:
    for line in f:
        batch.append(json.loads(line))
        if len(batch) == 10000:
            client.put("/bulk", json=batch).raise_for_status()
            written, batch = written + len(batch), []
if batch:
    client.put("/bulk", json=batch).raise_for_status()
    written += len(batch)
print(written)
"""


def child(command: list[str]) -> tuple[float, float, str]:
    """Runs a command; its wall time in seconds, its peak resident memory in MB, its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, out.decode()


def fill(url: str) -> tuple[str, float]:
    start = time.perf_counter()
    with edgekv.KV(url) as kv:
        ns = kv.create_namespace("TRANSFER")
        for first in range(0, KEYS, 10_000):
            ns.bulk_put(
                [
                    {"key": f"item:{i:07}", "value": VALUE % i}
                    for i in range(first, min(first + 10_000, KEYS))
                ]
            )
        return ns.id, time.perf_counter() - start


def main() -> bool:
    with tempfile.TemporaryDirectory(prefix="edgekv-bench-transfer-") as folder:
        root = Path(folder)
        url = sqlite_url(root / "kv.db")
        namespace_id, filled = fill(url)
        print(
            f"transfer: {KEYS} keys of ~{len(VALUE % KEYS)} bytes in SQLite (filled in {filled:.1f} s)"
        )
        with edgekv.KV(url) as kv:
            into = kv.create_namespace("IMPORTED").id
            anchor_into = kv.create_namespace("ANCHOR-IMPORTED").id
        with EdgeKVServer(root / "serve", store=url, workerd=False) as server:
            api = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces"
            exported = root / "export.jsonl"
            ex_s, ex_mb, _ = child(
                [
                    *EDGEKV,
                    "kv",
                    "export",
                    "--namespace-id",
                    namespace_id,
                    "--store",
                    url,
                    "-o",
                    str(exported),
                ]
            )
            anchor_s, anchor_mb, count = child(
                [
                    sys.executable,
                    "-c",
                    LIST_AND_BULK_GET,
                    f"{api}/{namespace_id}",
                    server.token,
                    str(root / "anchor.jsonl"),
                ]
            )
            assert int(count) == KEYS, count
            assert sum(1 for _ in exported.open("rb")) == KEYS
            im_s, im_mb, _ = child(
                [*EDGEKV, "kv", "import", str(exported), "--namespace-id", into, "--store", url]
            )
            put_s, put_mb, count = child(
                [
                    sys.executable,
                    "-c",
                    BULK_PUT,
                    f"{api}/{anchor_into}",
                    server.token,
                    str(exported),
                ]
            )
            assert int(count) == KEYS, count
        ok = report(
            f"export {KEYS} keys (edgekv kv export), peak {ex_mb:.0f} MB",
            Timed("export", ex_s),
            [(Timed(f"REST list + bulk get, peak {anchor_mb:.0f} MB", anchor_s), 1.0)],
            unit="s",
        )
        ok &= report(
            f"import {KEYS} keys (edgekv kv import, checked first), peak {im_mb:.0f} MB",
            Timed("import", im_s),
            [
                (Timed(f"REST bulk put of 10,000, peak {put_mb:.0f} MB", put_s), 1.5),
                (Timed("REST list + bulk get", anchor_s), 1.0),
            ],
            unit="s",
        )
        peak = max(ex_mb, im_mb)
        passed = peak <= PEAK_GOAL_MB
        print(
            f"peak memory of export and import: {peak:.0f} MB for {KEYS} keys "
            f"(goal <= {PEAK_GOAL_MB:.0f} MB, not growing with the keys) {'PASS' if passed else 'MISS'}",
            flush=True,
        )
        return ok and passed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
