"""`edgekv kv copy` and `edgekv kv verify` between a live `edgekv serve` (REST API on loopback),
its Cloudflare-style URL, and SQLite stores; `--watch` follows the server's change feed."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import edgekv
from edgekv.testing import EdgeKVServer
from tests.cli.cloudflare_like import cloudflare_like
from tests.cli.conftest import CLI, EDGEKV


@pytest.fixture
def server(edgekv_server: EdgeKVServer) -> Iterator[EdgeKVServer]:
    """The session's server, without namespaces left by an earlier test."""
    with edgekv_server.kv() as kv:
        for ns in kv.list_namespaces(per_page=100).namespaces:
            kv.delete_namespace(ns.id)
    yield edgekv_server


def _fill(kv: edgekv.KV, products: int = 1500) -> dict[str, str]:
    """CACHE (1500 products: two list pages, then a binary value) and SESSIONS."""
    later = int(time.time()) + 7200
    cache = kv.create_namespace("CACHE")
    cache.bulk_put(
        [{"key": f"product:{i:04}", "value": json.dumps({"id": i})} for i in range(products)]
    )
    cache.put("bin", b"\x00\xff\xfe", metadata={"type": "blob"}, expiration=later)
    sessions = kv.create_namespace("SESSIONS")
    sessions.put("session:a", '{"userId":"u1"}', metadata={"createdAt": 1}, expiration=later)
    return {"CACHE": cache.id, "SESSIONS": sessions.id}


def _source(server: EdgeKVServer) -> list[str]:
    return ["--from", server.url, "--from-token", server.token]


def test_copy_from_a_server_keeps_ids_titles_values_metadata_expirations(
    cli: CLI, server: EdgeKVServer, tmp_path: Path
) -> None:
    with server.kv() as kv:
        ids = _fill(kv)
    local = f"sqlite:///{tmp_path}/local.db"
    copied = cli.run("kv", "copy", *_source(server), "--to", local)
    assert copied.text == (
        f"Success! Copied 1502 keys in 2 namespaces from {server.url} to {local}.\n"
    )
    assert f'Copied 1501 keys of "CACHE" ({ids["CACHE"]} -> new {ids["CACHE"]})' in copied.err
    with edgekv.KV(local) as kv:
        cache = kv.namespace(ids["CACHE"])  # the same id: a wrangler.toml naming it works
        assert cache.title == "CACHE"
        got = cache.get_with_metadata("bin", "bytes")
        assert (got.value, got.metadata) == (b"\x00\xff\xfe", {"type": "blob"})
        assert got.expiration is not None and got.expiration > time.time() + 7000
        assert cache.get("product:1499", "json") == {"id": 1499}
        session = kv.namespace("SESSIONS").get_with_metadata("session:a")
        assert session.metadata == {"createdAt": 1}
    verified = cli.run("kv", "verify", *_source(server), "--to", local)
    assert verified.text == "Success! 1502 keys in 2 namespaces are the same in both.\n"

    again = cli.run("kv", "copy", *_source(server), "--to", local, "--namespace", "SESSIONS")
    assert "existing" in again.err and "Copied 1 keys in 1 namespaces" in again.text


def test_copy_to_a_cloudflare_style_url_and_verify_what_differs(
    cli: CLI, server: EdgeKVServer, tmp_path: Path
) -> None:
    local = f"sqlite:///{tmp_path}/local.db"
    with edgekv.KV(local) as kv:
        ns = kv.create_namespace("CONFIG")
        ns.bulk_put([{"key": f"k{i}", "value": "v"} for i in range(10)])
        ns.put("expiring", "v", expiration_ttl=3600)
    with edgekv.KV(f"sqlite:///{tmp_path}/local.db", clock=lambda: time.time() - 30) as kv:
        kv.namespace("CONFIG").put("soon", "v", expiration_ttl=60)  # 30 s left: refused by APIs
    # As Cloudflare's URL is given: the API base itself, an account id and a token.
    target = ["--to", server.rest_url, "--to-account-id", server.account_id]
    target += ["--to-token", server.token]
    copied = cli.run("kv", "copy", "--from", local, *target)
    assert "Copied 11 keys" in copied.text and "1 expiring left out" in copied.err
    assert cli.run("kv", "verify", "--from", local, *target).text.startswith(
        "Success! 11 keys in 1 namespaces"
    )

    with server.kv() as kv:
        remote = kv.namespace("CONFIG")
        remote.delete("k0")
        remote.put("k1", "changed")
        remote.put("zzz", "extra")
    err = cli.fail("kv", "verify", "--from", local, *target)
    assert err.startswith(f"✘ [ERROR] {server.rest_url} differs from {local}:")
    assert '"CONFIG": 1 missing: "k0"' in err
    assert '"CONFIG": 1 extra: "zzz"' in err
    assert '"CONFIG": 1 different: "k1"' in err

    err = cli.fail("kv", "verify", "--from", local, *target, "--namespace", "NOPE")
    assert "No namespace NOPE in the source." in err


def _read_until(process: subprocess.Popen[bytes], text: str, timeout: float = 30) -> str:
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode()
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(process.stderr.fileno(), 4096)
            assert chunk, seen.decode()
            seen += chunk
    return seen.decode()


def test_watch_copies_changes_until_interrupted(
    cli: CLI, server: EdgeKVServer, tmp_path: Path
) -> None:
    with server.kv() as kv:
        ids = _fill(kv)
    local = f"sqlite:///{tmp_path}/local.db"
    env = {**os.environ, "HOME": str(cli.home), "EDGEKV_FROM_TOKEN": server.token}
    watching = subprocess.Popen(
        [EDGEKV, "kv", "copy", "--from", server.url, "--to", local, "--watch"],
        env={k: v for k, v in env.items() if k != "EDGEKV_STORE"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _read_until(watching, "Watching the source's changes")
        with server.kv() as kv:
            cache = kv.namespace(ids["CACHE"])
            cache.put("product:new", "fresh", metadata={"v": 2})
            cache.delete("product:0000")
            cache.bulk_put([{"key": f"late:{i}", "value": "x"} for i in range(50)])
        with edgekv.KV(local) as kv:
            mirror = kv.namespace(ids["CACHE"])
            deadline = time.monotonic() + 20
            while mirror.get("late:49") is None or mirror.get("product:0000") is not None:
                assert time.monotonic() < deadline, "the watch did not copy the changes"
                time.sleep(0.05)
            assert mirror.get_with_metadata("product:new").metadata == {"v": 2}
        watching.send_signal(signal.SIGINT)
        out, _ = watching.communicate(timeout=30)
    finally:
        if watching.poll() is None:
            watching.kill()
            watching.wait()
    assert watching.returncode == 0
    assert b"Stopped watching: 51 keys written, 1 deleted." in out


def test_watch_is_refused_where_the_source_has_no_change_feed(
    cli: CLI, server: EdgeKVServer, tmp_path: Path
) -> None:
    with server.kv() as kv:
        _fill(kv, products=20)  # read as from Cloudflare: a request or two per key
    local = f"sqlite:///{tmp_path}/local.db"
    with cloudflare_like(server.url) as api:
        source = ["--from", api, "--from-account-id", server.account_id]
        source += ["--from-token", server.token]
        err = cli.fail("kv", "copy", *source, "--to", local, "--watch")
        assert f"{api} has no change feed (Cloudflare's API has none)" in err
        with edgekv.KV(local) as kv:
            assert kv.list_namespaces().namespaces == []  # refused before copying anything
        copied = cli.run("kv", "copy", *source, "--to", local)  # without --watch: copied
        assert "Copied 22 keys in 2 namespaces" in copied.text
        assert cli.run("kv", "verify", *source, "--to", local).text.startswith("Success! 22")
    with edgekv.KV(local) as kv:  # read as Cloudflare serves them: metadata and expiration kept
        got = kv.namespace("CACHE").get_with_metadata("bin", "bytes")
        assert (got.value, got.metadata) == (b"\x00\xff\xfe", {"type": "blob"})
        assert got.expiration is not None and got.expiration > time.time() + 7000
