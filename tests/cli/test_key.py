"""`edgekv kv key put|get|list|delete`: round trips, JSON output, the contract's errors."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cli.conftest import CLI, create_namespace


def test_put_get_round_trips_bytes_exactly(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    put = cli.run("kv", "key", "put", "a/b c?#ü", "héllo wörld", *ns).text
    assert put.startswith('Writing the value "héllo wörld" to key "a/b c?#ü" on namespace id:')
    assert cli.run("kv", "key", "get", "a/b c?#ü", *ns).out == "héllo wörld".encode()
    assert cli.run("kv", "key", "get", "a/b c?#ü", "--text", *ns).text == "héllo wörld\n"

    binary = bytes(range(256)) * 300 + b"\r\n\x00"
    (tmp_path / "blob.bin").write_bytes(binary)
    put = cli.run("kv", "key", "put", "bin", "--path", str(tmp_path / "blob.bin"), *ns).text
    assert "Writing the contents of" in put
    assert cli.run("kv", "key", "get", "bin", *ns).out == binary

    cli.run("kv", "key", "put", "stdin", "--path", "-", *ns, input=b"\xff\xfe from stdin")
    assert cli.run("kv", "key", "get", "stdin", *ns).out == b"\xff\xfe from stdin"

    cli.run("kv", "key", "put", "empty", "", *ns)  # an empty value is legal in the contract
    assert cli.run("kv", "key", "get", "empty", *ns).out == b""

    deleted = cli.run("kv", "key", "delete", "bin", *ns).text
    assert deleted.startswith('Deleting the key "bin" on namespace id:')
    assert cli.fail("kv", "key", "get", "bin", *ns) == "✘ [ERROR] get: 'key not found'\n"
    cli.run("kv", "key", "delete", "never-there", *ns)  # a missing key is no error


def test_metadata_and_expiry_show_in_list(cli: CLI, data: list[str]) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    before = int(time.time())
    put = cli.run(
        "kv", "key", "put", "m", "v", "--metadata", '{"a": [1, "ü"]}', "--ttl", "120", *ns
    ).text
    assert 'with metadata "{"a":[1,"ü"]}"' in put
    at = before + 3600
    cli.run("kv", "key", "put", "e", "v", "--expiration", str(at), *ns)
    cli.run("kv", "key", "put", "plain", "v", *ns)
    listed = cli.run("kv", "key", "list", *ns).json()
    assert [k["name"] for k in listed] == ["e", "m", "plain"]
    assert listed[0] == {"name": "e", "expiration": at}
    assert listed[1]["metadata"] == {"a": [1, "ü"]}
    assert before + 120 <= listed[1]["expiration"] <= int(time.time()) + 120
    assert listed[2] == {"name": "plain"}  # expiration and metadata only when set


def test_refused_writes_show_the_contract_message(cli: CLI, data: list[str]) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    cases = {
        ("--ttl", "30"): "Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
        ("--ttl", "0"): "Invalid expiration_ttl of 0. Please specify integer greater than 0.",
        ("--ttl", "soon"): "Invalid expiration_ttl of soon. Please specify integer greater than 0.",
        ("--expiration", "1000"): "Invalid expiration of 1000. Please specify integer greater "
        "than the current number of seconds since the UNIX epoch.",
        ("--metadata", "{bad"): "Metadata must be valid JSON.",
        ("--metadata", '"' + "x" * 1100 + '"'): "Metadata length of 1102 exceeds limit of 1024.",
    }
    for options, message in cases.items():
        err = cli.fail("kv", "key", "put", "k", "v", *options, *ns)
        assert err == f"✘ [ERROR] {message}\n", options
    err = cli.fail("kv", "key", "put", "k" * 513, "v", *ns)
    assert "UTF-8 encoded length of 513 exceeds key length limit of 512." in err
    err = cli.fail("kv", "key", "put", "..", "v", *ns)
    assert '".." is not allowed as a key name.' in err
    assert "Exactly one of the arguments value and --path" in cli.fail("kv", "key", "put", "k", *ns)
    assert cli.run("kv", "key", "list", *ns).json() == []  # none of them wrote anything

    err = cli.fail("kv", "key", "get", "k", *data)
    assert "Must specify one of: --namespace-id, --binding or --namespace" in err
    err = cli.fail("kv", "key", "get", "k", *ns, "--namespace", "TEST")
    assert "Cannot specify more than one" in err
    err = cli.fail("kv", "key", "get", "k", "--namespace-id", "0" * 32, *data)
    assert f'no namespace with id "{"0" * 32}"' in err
    err = cli.fail("kv", "key", "list", "--namespace", "nope", *data)
    assert 'No namespace found with the name "nope"' in err


def test_list_pages_with_prefix_limit_and_cursor(cli: CLI, data: list[str]) -> None:
    create_namespace(cli, data, "paged")
    ns = ["--namespace", "paged", *data]  # by title, the convenience wrangler lacks
    names = [f"user:{i:02d}" for i in range(7)] + ["other"]
    pairs = ",".join(f'{{"key": "{n}", "value": "{n}"}}' for n in names)
    cli.run("kv", "bulk", "put", "-", *ns, input=f"[{pairs}]")

    first = cli.run("kv", "key", "list", "--prefix", "user:", "--limit", "3", *ns)
    assert [k["name"] for k in first.json()] == ["user:00", "user:01", "user:02"]
    cursor = first.err.strip().splitlines()[-1].removeprefix("cursor: ")
    rest = cli.run("kv", "key", "list", "--prefix", "user:", "--cursor", cursor, *ns)
    assert [k["name"] for k in rest.json()] == [f"user:{i:02d}" for i in range(3, 7)]
    assert "cursor:" not in rest.err  # the last page has no cursor

    last = cli.run("kv", "key", "list", "--prefix", "user:", "--limit", "7", *ns)
    assert len(last.json()) == 7
    assert [k["name"] for k in cli.run("kv", "key", "list", *ns).json()] == sorted(names)
    err = cli.fail("kv", "key", "list", "--cursor", "_w", *ns)
    assert "Invalid cursor" in err
