"""`edgekv kv export` and `edgekv kv import`: JSON Lines out and in, checked, batched, resumable."""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import CLI, EDGEKV, create_namespace

KEYS = [
    {"key": "plain", "value": "text ü 😀"},
    {"key": "bin/ary", "value": base64.b64encode(b"\x00\xff\xfe").decode(), "base64": True},
    {"key": "meta", "value": "m", "metadata": {"tag": "x", "n": [1, 2]}},
    {"key": "user:1", "value": "{}", "expiration_ttl": 3600},
    {"key": "user:2", "value": "line\nbreak"},
]


def _lines(text: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.decode().splitlines()]


def test_export_then_import_keeps_every_value_metadata_and_expiration(
    cli: CLI, data: list[str], tmp_path: Path
) -> None:
    source = ["--namespace-id", create_namespace(cli, data, "SOURCE"), *data]
    cli.run("kv", "bulk", "put", "-", *source, input=json.dumps(KEYS))
    exported = cli.run("kv", "export", *source)
    lines = _lines(exported.out)
    assert [line["key"] for line in lines] == ["bin/ary", "meta", "plain", "user:1", "user:2"]
    assert lines[0] == {"key": "bin/ary", "value": "AP/+", "base64": True}  # not UTF-8
    assert lines[1] == {"key": "meta", "value": "m", "metadata": {"tag": "x", "n": [1, 2]}}
    assert lines[2] == {"key": "plain", "value": "text ü 😀"}  # UTF-8 stays text
    expiration = lines[3]["expiration"]
    assert isinstance(expiration, int) and expiration > time.time() + 3000
    assert "Exported 5 keys" in exported.err

    prefixed = cli.run("kv", "export", "--prefix", "user:", *source)
    assert [line["key"] for line in _lines(prefixed.out)] == ["user:1", "user:2"]

    (tmp_path / "out.jsonl").write_bytes(exported.out)
    cli.run("kv", "export", "--output", str(tmp_path / "file.jsonl"), *source)
    assert (tmp_path / "file.jsonl").read_bytes() == exported.out
    assert not (tmp_path / "file.jsonl.partial").exists()

    target = ["--namespace-id", create_namespace(cli, data, "TARGET"), *data]
    imported = cli.run("kv", "import", str(tmp_path / "out.jsonl"), *target)
    assert imported.text == "Success! Imported 5 keys.\n"
    assert "Importing 5 keys" in imported.err
    assert cli.run("kv", "export", *target).out == exported.out  # the same, byte for byte
    assert cli.run("kv", "key", "get", "bin/ary", *target).out == b"\x00\xff\xfe"
    assert not (tmp_path / "out.jsonl.import-state").exists()  # done: nothing to resume

    again = cli.run("kv", "import", "-", *target, input=exported.out)  # stdin works too
    assert again.text == "Success! Imported 5 keys.\n"


def test_a_bad_line_refuses_the_whole_file(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps({"key": f"k{i}", "value": "v"}) for i in range(30)]
    lines[9] = json.dumps({"key": "k9", "value": 5})
    lines[19] = json.dumps({"key": "", "value": "v"})
    bad.write_text("\n".join(lines) + "\n")
    err = cli.fail("kv", "import", str(bad), *ns)
    assert err == (
        f"✘ [ERROR] {bad}: 2 items are invalid; nothing was written.\n"
        f"  {bad}:10: item 9: value must be a string\n"
        f"  {bad}:20: item 19: Key name cannot be empty.\n"
    )
    bad.write_text('{"key": "a", "value": "1"}\n\n{"key": "b" "value": "2"}\n')
    assert cli.fail("kv", "import", str(bad), *ns) == (
        f"✘ [ERROR] {bad}:3:13: Expecting ',' delimiter\n"
        '    {"key": "b" "value": "2"}\n'
        "                ^\n"
    )
    assert cli.run("kv", "key", "list", *ns).json() == []


def test_expirations_are_kept_as_exported(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    now = int(time.time())
    soon, later = now + 30, now + 7200
    (tmp_path / "e.jsonl").write_text(
        json.dumps({"key": "gone", "value": "v", "expiration": now - 10})
        + "\n"
        + json.dumps({"key": "soon", "value": "v", "expiration": soon})
        + "\n"
        + json.dumps({"key": "later", "value": "v", "expiration": later})
        + "\n"
    )
    result = cli.run("kv", "import", str(tmp_path / "e.jsonl"), *ns)
    assert result.text == "Success! Imported 2 keys (1 expired since the export were left out).\n"
    listed = {k["name"]: k.get("expiration") for k in cli.run("kv", "key", "list", *ns).json()}
    # An export's expiration is the key's, kept exactly: the write minimum of 60 s is for new
    # writes, not for a key that already has its expiry.
    assert listed == {"soon": soon, "later": later}


def _big_file(path: Path, count: int) -> None:
    path.write_text(
        "".join(json.dumps({"key": f"k{i:06}", "value": str(i)}) + "\n" for i in range(count))
    )


def test_a_failed_batch_stops_and_resume_continues_from_it(
    cli: CLI, data: list[str], tmp_path: Path
) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    source = tmp_path / "big.jsonl"
    _big_file(source, 2500)
    # A real fault in the real store: SQLite refuses one key, so the batch holding it fails.
    db = sqlite3.connect(tmp_path / "data" / "kv.db")
    db.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON entries WHEN NEW.key = 'k001234' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned key'); END"
    )
    db.commit()
    err = cli.fail("kv", "import", str(source), "--batch-size", "500", *ns)
    assert "Lines 1001-1500 of" in err and "poisoned key" in err
    assert "--resume to continue from line 1001" in err
    state = json.loads((tmp_path / "big.jsonl.import-state").read_text())
    assert (state["line"], state["written"]) == (1000, 1000)
    assert len(cli.run("kv", "key", "list", *ns).json()) == 1000  # whole batches only

    db.execute("DROP TRIGGER poison")
    db.commit()
    db.close()
    resumed = cli.run("kv", "import", str(source), "--batch-size", "500", "--resume", *ns)
    assert "Resuming" in resumed.err and "after line 1000" in resumed.err
    assert resumed.text == "Success! Imported 2500 keys.\n"
    keys = [k["name"] for k in cli.run("kv", "key", "list", *ns).json()]  # every page
    assert keys == [f"k{i:06}" for i in range(2500)]
    assert "Nothing to resume" in cli.fail("kv", "import", str(source), "--resume", *ns)


def test_an_import_killed_midway_resumes(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    source = tmp_path / "big.jsonl"
    _big_file(source, 60_000)
    state = tmp_path / "big.jsonl.import-state"
    env = {"HOME": str(cli.home), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [EDGEKV, "kv", "import", str(source), "--batch-size", "200", *ns],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and json.loads(state.read_text())["line"] > 0:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)  # no chance to clean up: as a crash
    process.wait()
    at = json.loads(state.read_text())["line"]
    assert 0 < at < 60_000, at
    resumed = cli.run("kv", "import", str(source), "--batch-size", "5000", "--resume", *ns)
    assert f"after line {at}" in resumed.err
    assert resumed.text == "Success! Imported 60000 keys.\n"
    assert len(_lines(cli.run("kv", "export", *ns).out)) == 60_000


def test_resume_refuses_a_state_of_another_file(cli: CLI, data: list[str], tmp_path: Path) -> None:
    ns = ["--namespace-id", create_namespace(cli, data), *data]
    source = tmp_path / "a.jsonl"
    _big_file(source, 10)
    state = tmp_path / "a.jsonl.import-state"
    state.write_text(
        json.dumps(
            {
                "file": str(source),
                "size": 1,
                "mtime_ns": 0,
                "namespace_id": "x",
                "line": 5,
                "written": 5,
            }
        )
    )
    assert "records an import of another file" in cli.fail(
        "kv", "import", str(source), "--resume", *ns
    )
    assert "an import from stdin cannot resume" in cli.fail("kv", "import", "-", "--resume", *ns)
