"""`edgekv audit` through the real command, against a store with known keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from edgekv import KV
from edgekv.audit import prefix_of
from edgekv.cli.store_choice import sqlite_url
from tests.cli.conftest import CLI, create_namespace

DAY = 86_400
BIG = 21 << 20  # above 80 % of 25 MiB
LONG_KEY = "k" * 450  # above 80 % of 512 bytes
META = {"pad": "m" * 880}  # above 80 % of 1024 bytes, as stored JSON


@pytest.fixture
def store(cli: CLI, data: list[str], tmp_path: Path) -> str:
    """Namespace TEST with known keys, two of them written 40 days ago; returns its id."""
    namespace_id = create_namespace(cli, data)
    create_namespace(cli, data, "OTHER")
    url = sqlite_url(tmp_path / "data" / "kv.db")
    now = time.time()
    with KV(url, clock=lambda: now - 40 * DAY) as old:
        ns = old.namespace(namespace_id)
        ns.put("old:a", "a" * 10)
        ns.put("old:b", "b" * 20)
    with KV(url) as kv:
        ns = kv.namespace(namespace_id)
        for i in range(5):
            ns.put(f"cache:temp:{i}", "t" * 100, expiration_ttl=3600)
        ns.put("user:1:profile", "p" * 300)
        ns.put("user:2:profile", "p" * 300)
        ns.put("big", b"B" * BIG)
        ns.put(LONG_KEY, "x")
        ns.put("meta", "y", metadata=META)
    return namespace_id


def audit(cli: CLI, data: list[str], *args: str) -> list[dict[str, Any]]:
    out = cli.run("audit", "--json", *args, *data).json()
    assert isinstance(out, list)
    return out


def test_audit_reports_what_the_store_holds(cli: CLI, data: list[str], store: str) -> None:
    [report] = audit(cli, data, "--namespace", "TEST")
    assert report["namespace"]["id"] == store
    assert report["keys"] == 12
    total = 10 + 20 + 5 * 100 + 2 * 300 + BIG + 1 + 1
    assert report["bytes"] == total
    assert report["keys_of_unknown_size"] == 0

    forever = report["without_expiration"]
    assert forever["keys"] == 7  # all but the five cache:temp: keys
    assert forever["bytes"] == total - 500
    assert forever["top_prefixes"] == [
        {"prefix": "", "keys": 3, "bytes": BIG + 2},
        {"prefix": "old:", "keys": 2, "bytes": 30},
        {"prefix": "user:", "keys": 2, "bytes": 600},
    ]

    assert report["largest_values"][:3] == [
        {"name": "big", "bytes": BIG},
        {"name": "user:1:profile", "bytes": 300},
        {"name": "user:2:profile", "bytes": 300},
    ]
    assert report["prefixes_by_keys"][0] == {"prefix": "cache:temp:", "keys": 5, "bytes": 500}
    assert report["prefixes_by_bytes"][0]["bytes"] == BIG + 2  # "" holds big, meta, the long key

    near = report["near_limits"]
    assert near["key_names"] == {
        "limit": 512,
        "count": 1,
        "keys": [{"name": LONG_KEY, "bytes": 450}],
    }
    meta_bytes = len(json.dumps(META, separators=(",", ":")))
    assert near["metadata"] == {
        "limit": 1024,
        "count": 1,
        "keys": [{"name": "meta", "bytes": meta_bytes}],
    }
    assert near["values"] == {
        "limit": 25 << 20,
        "count": 1,
        "keys": [{"name": "big", "bytes": BIG}],
    }

    stale = report["not_written_for_days"]
    assert (stale["days"], stale["keys"], stale["bytes"]) == (30, 2, 30)
    assert [row["name"] for row in stale["oldest"]] == ["old:a", "old:b"]
    assert stale["oldest"][0]["written_at"] < time.time() - 39 * DAY
    assert stale["keys_of_unknown_last_write"] == 0
    assert (
        audit(cli, data, "--namespace", store, "--stale-days", "50")[0]["not_written_for_days"][
            "keys"
        ]
        == 0
    )


def test_audit_every_namespace_and_as_text(cli: CLI, data: list[str], store: str) -> None:
    reports = audit(cli, data)
    assert sorted(r["namespace"]["title"] for r in reports) == ["OTHER", "TEST"]
    text = cli.run("audit", "--namespace", "TEST", *data).text
    assert f'Namespace "TEST" (id: {store}): 12 keys' in text
    assert "Without expiration: 7 keys" in text
    assert "value (25.0 MiB): 1 keys" in text
    assert "Not written for 30 days: 2 keys, 30 B" in text
    assert "oldest: old:a" in text


def test_unknown_namespace(cli: CLI, data: list[str], store: str) -> None:
    assert 'No namespace with the id or title "nope"' in cli.fail(
        "audit", "--namespace", "nope", *data
    )


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("cache:temp:0042", "cache:temp:"),
        ("user:42:profile", "user:"),
        ("assets/img/logo.png", "assets/img/"),
        ("config", ""),
        ("a:b:c:d:e", "a:b:c:"),
    ],
)
def test_prefix_of(key: str, prefix: str) -> None:
    assert prefix_of(key) == prefix
