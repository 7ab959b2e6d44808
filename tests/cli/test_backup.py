"""`edgekv backup FILE` and `edgekv restore FILE`: a whole store, its accounts and tokens (still
hashed, and still working), namespaces with their ids and titles, keys; a snapshot taken while
another process writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

import edgekv
from edgekv.testing import EdgeKVServer
from tests.cli.conftest import CLI


def _store(tmp_path: Path, name: str) -> list[str]:
    return ["--store", f"sqlite:///{tmp_path}/{name}.db"]


def test_backup_and_restore_a_whole_store(cli: CLI, tmp_path: Path) -> None:
    src, dst = _store(tmp_path, "source"), _store(tmp_path, "restored")
    token = cli.run("token", "create", "--name", "app", *src).text.strip()
    acme = cli.run("account", "create", "acme", *src).text.strip()
    acme_token = cli.run("token", "create", "--account", acme, "--read-only", *src).text.strip()
    cache = cli.run("kv", "namespace", "create", "CACHE", *src).text
    cache_id = cache.split('"id": "')[1][:32]
    cli.run("kv", "namespace", "create", "THEIRS", "--account-id", acme, *src)
    pairs = [
        {"key": "bin", "value": "AP8=", "base64": True, "metadata": {"m": 1}},
        {"key": "ttl", "value": "t", "expiration_ttl": 3600},
    ]
    cli.run("kv", "bulk", "put", "-", "--namespace-id", cache_id, *src, input=json.dumps(pairs))
    cli.run("kv", "key", "put", "k", "theirs", "--namespace", "THEIRS", "--account-id", acme, *src)

    done = cli.run("backup", str(tmp_path / "store.backup"), *src)
    assert "Backed up 3 namespaces and" in done.err and "SQLite's online backup" in done.err
    text = (tmp_path / "store.backup").read_text()
    assert token not in text and acme_token not in text  # only hashes are kept

    restored = cli.run("restore", str(tmp_path / "store.backup"), *dst)
    assert restored.text.startswith("Success! Restored 3 namespaces (3 created) and ")
    assert cli.run("account", "list", *dst).text == cli.run("account", "list", *src).text
    assert cli.run("token", "list", *dst).text == cli.run("token", "list", *src).text
    assert cli.run("kv", "namespace", "list", *dst).json() == (
        cli.run("kv", "namespace", "list", *src).json()
    )
    for account in (edgekv.DEFAULT_ACCOUNT, acme):
        both = ["--from", src[1], "--to", dst[1], "--from-account-id", account]
        assert cli.run("kv", "verify", *both, "--to-account-id", account).text.startswith(
            "Success!"
        )

    # The tokens made before the backup open the restored store's server.
    with EdgeKVServer(tmp_path / "serve", store=dst[1], workerd=False) as server:
        path = f"/client/v4/accounts/{edgekv.DEFAULT_ACCOUNT}/storage/kv/namespaces/{cache_id}"
        with httpx.Client(base_url=server.url) as http:
            bearer = {"Authorization": f"Bearer {token}"}
            assert http.get(f"{path}/values/ttl", headers=bearer).text == "t"
            theirs = http.get(
                f"/client/v4/accounts/{acme}/storage/kv/namespaces",
                headers={"Authorization": f"Bearer {acme_token}"},
            ).json()["result"]
            assert [ns["title"] for ns in theirs] == ["THEIRS"]

    again = cli.run("restore", str(tmp_path / "store.backup"), *dst)  # after an interruption
    assert again.text.startswith("Success! Restored 3 namespaces (0 created)")


def test_a_restore_checks_the_whole_file_first(cli: CLI, tmp_path: Path) -> None:
    src, dst = _store(tmp_path, "source"), _store(tmp_path, "target")
    cli.run("kv", "namespace", "create", "CACHE", *src)
    cli.run("kv", "key", "put", "k", "v", "--namespace", "CACHE", *src)
    cli.run("backup", str(tmp_path / "b"), *src)
    lines = (tmp_path / "b").read_text().splitlines()

    (tmp_path / "cut").write_text("\n".join(lines[:-1]) + "\n")  # the end line lost
    assert "the backup is incomplete (no end line); nothing was written." in cli.fail(
        "restore", str(tmp_path / "cut"), *dst
    )
    bad = [
        *lines[:-1],
        json.dumps({"ns": json.loads(lines[1])["namespace"]["id"], "key": "", "value": "v"}),
        lines[-1],
    ]
    (tmp_path / "bad").write_text("\n".join(bad) + "\n")
    err = cli.fail("restore", str(tmp_path / "bad"), *dst)
    assert (
        f"{tmp_path / 'bad'}:{len(lines)}: item {len(lines) - 1}: Key name cannot be empty." in err
    )
    (tmp_path / "other").write_text('{"key": "k", "value": "v"}\n')
    assert "not an edgekv backup" in cli.fail("restore", str(tmp_path / "other"), *dst)
    assert cli.run("kv", "namespace", "list", *dst).json() == []  # nothing was written

    cli.run("kv", "namespace", "create", "CACHE", *dst)  # the same title, another id
    err = cli.fail("restore", str(tmp_path / "b"), *dst)
    assert "The store has namespaces the backup would overwrite" in err
    assert cli.run("kv", "key", "list", "--namespace", "CACHE", *dst).json() == []


WRITER = """
import sys, edgekv
kv = edgekv.KV(sys.argv[1])
ns = kv.namespace("PAIRS")
i = 0
while True:
    i += 1
    ns.bulk_put([{"key": "a", "value": str(i)}, {"key": "z", "value": str(i)}])  # one transaction
    if i == 20:
        print("writing", flush=True)
"""


def test_a_snapshot_is_of_one_instant_while_another_process_writes(
    cli: CLI, tmp_path: Path
) -> None:
    src, dst = _store(tmp_path, "source"), _store(tmp_path, "target")
    with edgekv.KV(src[1]) as kv:
        ns = kv.create_namespace("PAIRS")
        ns.bulk_put([{"key": "a", "value": "0"}, {"key": "z", "value": "0"}])
        for start in range(0, 30_000, 10_000):
            ns.bulk_put(
                [{"key": f"m{i:05}", "value": "x" * 50} for i in range(start, start + 10_000)]
            )
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, src[1]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
        cli.run("backup", str(tmp_path / "b"), *src)
    finally:
        writer.kill()
        writer.wait()
    cli.run("restore", str(tmp_path / "b"), *dst)
    with edgekv.KV(dst[1]) as kv:
        restored = kv.namespace("PAIRS")
        a, z = restored.get("a"), restored.get("z")
        assert a is not None and int(a) > 20
        assert a == z  # 30,000 keys apart, of one instant
    assert json.loads((tmp_path / "b").read_text().splitlines()[0])["snapshot"] == "sqlite-backup"
