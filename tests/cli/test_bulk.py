"""`edgekv kv bulk put|get|delete FILE`: wrangler's formats, strict files, batches, failures."""

from __future__ import annotations

import base64
import json
import os
import pty
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.cli.conftest import CLI, EDGEKV, create_namespace


def test_bulk_round_trip_through_key_list(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    at = int(time.time()) + 3600
    pairs = [
        {"key": "plain", "value": "text ü"},
        {"key": "bytes", "value": base64.b64encode(b"\x00\xffhi").decode(), "base64": True},
        {"key": "meta", "value": "m", "metadata": {"tag": "x"}, "expiration": at},
        {"key": "ttl", "value": "t", "expiration_ttl": 600},
    ]
    (tmp_path / "put.json").write_text(json.dumps(pairs))
    put = cli.run("kv", "bulk", "put", str(tmp_path / "put.json"), *ns)
    assert put.text == "Success! Wrote 4 keys.\n"
    assert "Writing 4 keys" in put.err  # the progress bar's label (stderr is not a tty here)
    assert cli.run("kv", "key", "get", "bytes", *ns).out == b"\x00\xffhi"

    listing = cli.run("kv", "key", "list", *ns)
    (tmp_path / "keys.json").write_bytes(listing.out)  # `key list` output feeds bulk get/delete
    keys = [k["name"] for k in listing.json()]
    (tmp_path / "names.json").write_text(json.dumps(["plain", "missing"]))

    got = cli.run("kv", "bulk", "get", str(tmp_path / "names.json"), *ns)
    assert got.json() == {"plain": "text ü", "missing": None}  # wrangler's remote format
    assert got.err.endswith("Success!\n")
    got = cli.run("kv", "bulk", "get", str(tmp_path / "keys.json"), "--metadata", *ns).json()
    assert list(got) == keys
    assert got["meta"] == {"value": "m", "metadata": {"tag": "x"}, "expiration": at}
    assert got["plain"] == {"value": "text ü", "metadata": None}

    deleted = cli.run("kv", "bulk", "delete", str(tmp_path / "keys.json"), "--force", *ns)
    assert deleted.text == "Success! Deleted 4 keys.\n"
    assert cli.run("kv", "key", "list", *ns).json() == []


def test_bulk_delete_without_a_terminal_needs_force(cli: CLI, data: list[str]) -> None:
    # wrangler answers its own question yes when it cannot ask; edgekv refuses instead.
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    cli.run("kv", "key", "put", "k", "v", *ns)
    err = cli.fail("kv", "bulk", "delete", "-", *ns, input='["k", {"name": "gone"}]')
    assert "Pass --force to delete without asking." in err
    assert [k["name"] for k in cli.run("kv", "key", "list", *ns).json()] == ["k"]
    cli.run("kv", "bulk", "delete", "-", "--force", *ns, input='["k", {"name": "gone"}]')
    assert cli.run("kv", "key", "list", *ns).json() == []


def test_malformed_files_are_refused_before_anything_is_written(
    cli: CLI, data: list[str], tmp_path: Path
) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    bad = tmp_path / "bad.json"

    bad.write_text('[\n  {"key": "a", "value": "1"},\n  {"key": "b" "value": "2"}\n]\n')
    err = cli.fail("kv", "bulk", "put", str(bad), *ns)
    assert err.startswith(f"✘ [ERROR] {bad}:3:15: Expecting ':' delimiter") or err.startswith(
        f"✘ [ERROR] {bad}:3:15: Expecting ',' delimiter"
    ), err

    bad.write_text('[\n  {"key": "a", "value": "1"},\n]')
    assert f"{bad}:3:1: Expecting value (trailing comma)" in cli.fail(
        "kv", "bulk", "put", str(bad), *ns
    )
    bad.write_text('[{"key": "a", "value": NaN}]')
    assert "NaN is not valid JSON" in cli.fail("kv", "bulk", "put", str(bad), *ns)
    bad.write_text('{"key": "a", "value": "1"}')
    err = cli.fail("kv", "bulk", "put", str(bad), *ns)
    assert "Expected an array but got object" in err
    bad.write_bytes(b'["\xff"]')
    assert "not valid UTF-8" in cli.fail("kv", "bulk", "delete", str(bad), "-f", *ns)

    # A bad item in the middle of a valid file: index, line and the contract's reason, and
    # not one of the good items before it is written.
    items: list[dict[str, Any]] = [{"key": f"k{i}", "value": "v"} for i in range(50)]
    items[20] = {"key": "k20", "value": "v", "expiration_ttl": 30}
    items[30] = {"key": "k30", "value": 5}
    items[40] = {"value": "no key"}
    bad.write_text("[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]\n")
    err = cli.fail("kv", "bulk", "put", str(bad), *ns)
    assert err == (
        f"✘ [ERROR] {bad}: 3 items are invalid; nothing was written.\n"
        f"  {bad}:22: item 20: Invalid expiration_ttl of 30. Expiration TTL must be at least 60.\n"
        f"  {bad}:32: item 30: value must be a string\n"
        f"  {bad}:42: item 40: each pair needs a key and a value\n"
    )
    assert cli.run("kv", "key", "list", *ns).json() == []

    bad.write_text('["ok", {"name": "also ok"},\n 7, {"nom": "x"}, ""]')
    err = cli.fail("kv", "bulk", "get", str(bad), *ns)
    assert f'{bad}:2: item 2: expected a key or an object with a "name" key, got 7' in err
    assert f"{bad}:2: item 4: Key name cannot be empty." in err
    assert "item 3" in err


def test_unexpected_fields_warn_like_wrangler(cli: CLI, data: list[str]) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    result = cli.run("kv", "bulk", "put", "-", *ns, input='[{"key": "k", "value": "v", "ttl": 60}]')
    assert '▲ [WARNING] Unexpected key-value properties in "<stdin>".' in result.err
    assert 'item 0 contains unexpected properties: ["ttl"]' in result.err


def test_large_file_goes_in_batches_and_reports_a_failed_batch(
    cli: CLI, data: list[str], tmp_path: Path
) -> None:
    ns_id = create_namespace(cli, data)
    ns = ["--namespace-id", ns_id, *data]
    count = 12_500  # two batches of at most 10,000
    items = [{"key": f"key-{i:05d}", "value": str(i)} for i in range(count)]
    (tmp_path / "big.json").write_text(json.dumps(items))

    # A real fault in the real store: a trigger that makes SQLite refuse one key, so the
    # batch holding it fails while the other batch is written.
    db = sqlite3.connect(tmp_path / "data" / "kv.db")
    db.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.key = 'key-11000' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned key'); END"
    )
    db.commit()
    db.close()
    err = cli.fail("kv", "bulk", "put", str(tmp_path / "big.json"), *ns)
    assert '2500 of 12500 keys were not written: "key-10000", "key-10001"' in err
    assert "and 2490 more" in err and "poisoned key" in err
    listed = cli.run("kv", "key", "list", *ns).json()
    assert len(listed) == 10_000 and listed[-1]["name"] == "key-09999"

    sqlite3.connect(tmp_path / "data" / "kv.db").execute("DROP TRIGGER poison").connection.close()
    assert "Wrote 12500 keys" in cli.run("kv", "bulk", "put", str(tmp_path / "big.json"), *ns).text
    got = cli.run("kv", "bulk", "get", str(tmp_path / "big.json"), *ns, ok=False)
    assert got.code == 1 and "key-00000" in got.err  # bulk get wants keys, not pairs
    listing = cli.run("kv", "key", "list", *ns)
    assert len(listing.json()) == count  # key list pages through every key, as wrangler does
    (tmp_path / "keys.json").write_bytes(listing.out)
    values = cli.run("kv", "bulk", "get", str(tmp_path / "keys.json"), *ns).json()
    assert values == {item["key"]: item["value"] for item in items}
    cli.run("kv", "bulk", "delete", str(tmp_path / "keys.json"), "-f", *ns)
    assert cli.run("kv", "key", "list", *ns).json() == []


def test_progress_bar_draws_on_a_terminal(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    (tmp_path / "p.json").write_text(json.dumps([{"key": "k", "value": "v"}] * 3))
    main, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEKV_")}
    proc = subprocess.run(
        [EDGEKV, "kv", "bulk", "put", str(tmp_path / "p.json"), *ns],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        timeout=60,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the pty's other end is closed
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    assert proc.returncode == 0
    assert b"Writing 3 keys" in drawn and b"100%" in drawn, drawn
