"""`edgekv serve` as a subprocess: the startup line, --no-auth only on loopback, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from edgekv.model import DEFAULT_ACCOUNT

EDGEKV = [str(Path(sys.executable).parent / "edgekv")]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEKV_")}
    env["EDGEKV_DATA_DIR"] = str(data_dir)
    return env


@contextmanager
def serving(data_dir: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """`edgekv serve --port 0 ...`; yields the process, its base URL and its startup lines."""
    proc = subprocess.Popen(
        [*EDGEKV, "serve", "--port", "0", *args],
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline()]
        match = re.search(r"listening on (http://\S+)", lines[0])
        assert match, lines[0] + (proc.stderr.read() if proc.stderr else "")
        while "REST API:" not in lines[-1]:
            lines.append(proc.stdout.readline())
        yield proc, match.group(1), lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def token(data_dir: Path) -> str:
    out = subprocess.run(
        [*EDGEKV, "token", "create"], env=_env(data_dir), capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_startup_line_says_where_who_and_how(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, url, lines):
        text = "".join(lines)
        assert url.startswith("http://127.0.0.1:")
        assert DEFAULT_ACCOUNT in text
        assert "edgekv token create" in text and "Authorization: Bearer" in text
        assert str(tmp_path / "kv.db") in text
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/client/v4/accounts").status_code == 401


def test_no_auth_is_loopback_only(tmp_path: Path) -> None:
    refused = subprocess.run(
        [*EDGEKV, "serve", "--host", "0.0.0.0", "--no-auth", "--port", "0"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--no-auth is only allowed on a loopback address" in refused.stderr
    with serving(tmp_path, "--no-auth") as (_, url, lines):
        assert "auth: OFF" in "".join(lines)
        answer = httpx.get(f"{url}/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces")
        assert answer.status_code == 200


def test_sigterm_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    secret = token(tmp_path)
    headers = {"Authorization": f"Bearer {secret}"}
    acknowledged: list[str] = []
    with serving(tmp_path) as (proc, url, _):
        base = f"{url}/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"
        ns = httpx.post(base, json={"title": "t"}, headers=headers).json()["result"]["id"]
        stop = threading.Event()

        def writer(n: int) -> None:
            with httpx.Client(headers=headers, timeout=30) as client:
                i = 0
                while not stop.is_set():
                    key = f"w{n}-{i}"
                    try:
                        answer = client.put(f"{base}/{ns}/values/{key}", content=b"x" * 200_000)
                    except httpx.HTTPError:
                        return  # the server has gone: this write was not acknowledged
                    if answer.status_code == 200:
                        acknowledged.append(key)
                    i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        while len(acknowledged) < 40:
            assert proc.poll() is None
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        stop.set()
        for t in threads:
            t.join(60)
    assert acknowledged
    with serving(tmp_path) as (_, url, _):
        base = f"{url}/client/v4/accounts/{DEFAULT_ACCOUNT}/storage/kv/namespaces"
        with httpx.Client(headers=headers) as client:
            for key in acknowledged:
                got = client.get(f"{base}/{ns}/values/{key}")
                assert got.status_code == 200 and len(got.content) == 200_000, key
