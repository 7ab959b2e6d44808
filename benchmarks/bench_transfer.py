"""Export and import of many small keys (1,000,000 by default) against the REST API's way.

Subjects, each a child process as a user runs it: `edgekv kv export` (JSON Lines, from the
SQLite store) and `edgekv kv import` (checked first, then atomic batches of 10,000). Anchors,
in the same run against a running `edgekv serve` over the same store: what Cloudflare's API
offers to take a namespace out (list pages of 1,000 keys, bulk reads of 100) and to bring one
in (bulk writes of 10,000 pairs), by a plain HTTP client writing and reading the same JSON
Lines. Each figure is one run (a million keys take long enough to average out noise); peak
memory is the command's maximum resident set (getrusage of a small parent that runs it), which
must not grow with the keys.

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
PEAK_GROWTH_GOAL = 1.25  # peak at all the keys against peak at a tenth of them
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


# A small process runs each measured command and reports its peak resident memory: a child's
# maximum counts the memory of whatever it was forked from (Linux keeps it across exec), so the
# command must not be forked from this process, which holds the fill's memory.
MEASURE = r"""
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"peak-kb {peak}", file=sys.stderr)
sys.exit(done.returncode)
"""


def child(command: list[str]) -> tuple[float, float, str]:
    """Runs a command; its wall time in seconds, its peak resident memory in MB, its stdout."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    err = done.stderr.decode()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {err[-2000:]}")
    peak_kb = int(err.strip().splitlines()[-1].split()[1])
    return elapsed, peak_kb / 1024, done.stdout.decode()


def fill(url: str, title: str, count: int) -> str:
    with edgekv.KV(url) as kv:
        ns = kv.create_namespace(title)
        for first in range(0, count, 10_000):
            last = min(first + 10_000, count)
            ns.bulk_put([{"key": f"item:{i:07}", "value": VALUE % i} for i in range(first, last)])
        return ns.id


def export_import(url: str, namespace_id: str, into: str, file: Path) -> tuple[float, ...]:
    """`edgekv kv export` of a namespace, then `edgekv kv import` of the file into another:
    (export seconds, export peak MB, import seconds, import peak MB)."""
    store = ["--store", url]
    ex_s, ex_mb, _ = child(
        [*EDGEKV, "kv", "export", "--namespace-id", namespace_id, *store, "-o", str(file)]
    )
    im_s, im_mb, _ = child([*EDGEKV, "kv", "import", str(file), "--namespace-id", into, *store])
    return ex_s, ex_mb, im_s, im_mb


def main() -> bool:
    tenth = max(1, KEYS // 10)
    with tempfile.TemporaryDirectory(prefix="edgekv-bench-transfer-") as folder:
        root = Path(folder)
        url = sqlite_url(root / "kv.db")
        started = time.perf_counter()
        namespace_id = fill(url, "TRANSFER", KEYS)
        small_id = fill(url, "TENTH", tenth)
        print(
            f"transfer: {KEYS} keys of ~{len(VALUE % KEYS)} bytes in SQLite "
            f"(and {tenth} for the memory check; filled in {time.perf_counter() - started:.1f} s)"
        )
        with edgekv.KV(url) as kv:
            into, small_into, anchor_into = (
                kv.create_namespace(title).id for title in ("IN", "TENTH-IN", "ANCHOR-IN")
            )
        _, small_ex_mb, _, small_im_mb = export_import(
            url, small_id, small_into, root / "tenth.jsonl"
        )
        exported = root / "export.jsonl"
        ex_s, ex_mb, im_s, im_mb = export_import(url, namespace_id, into, exported)
        assert sum(1 for _ in exported.open("rb")) == KEYS
        with EdgeKVServer(root / "serve", store=url, workerd=False) as server:
            api = f"{server.rest_url}/accounts/{server.account_id}/storage/kv/namespaces"
            anchor = [server.token]
            out = str(root / "anchor.jsonl")
            get_s, get_mb, count = child(
                [sys.executable, "-c", LIST_AND_BULK_GET, f"{api}/{namespace_id}", *anchor, out]
            )
            assert int(count) == KEYS, count
            put_s, put_mb, count = child(
                [sys.executable, "-c", BULK_PUT, f"{api}/{anchor_into}", *anchor, str(exported)]
            )
            assert int(count) == KEYS, count
        ok = report(
            f"export {KEYS} keys (edgekv kv export), peak {ex_mb:.0f} MB",
            Timed("export", ex_s),
            [(Timed(f"REST list + bulk get, peak {get_mb:.0f} MB", get_s), 1.0)],
            unit="s",
        )
        ok &= report(
            f"import {KEYS} keys (edgekv kv import, checked first), peak {im_mb:.0f} MB",
            Timed("import", im_s),
            [
                (Timed(f"REST bulk put of 10,000, peak {put_mb:.0f} MB", put_s), 1.5),
                (Timed("REST list + bulk get", get_s), 1.0),
            ],
            unit="s",
        )
        for what, big, small in (("export", ex_mb, small_ex_mb), ("import", im_mb, small_im_mb)):
            ratio = big / small
            passed = ratio <= PEAK_GROWTH_GOAL
            ok &= passed
            print(
                f"{what} peak memory: {big:.0f} MB for {KEYS} keys | {ratio:.2f} x {small:.0f} MB "
                f"for {tenth} (goal <= {PEAK_GROWTH_GOAL}: flat, not growing with the keys) "
                f"{'PASS' if passed else 'MISS'}",
                flush=True,
            )
        return ok


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
