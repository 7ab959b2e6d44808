"""`edgekv serve` in a subprocess on a free loopback port, with a token: for REST and workerd
tests, of this project and of its users.

The server runs as a user starts it (`edgekv serve --port 0 --workerd-port 0`) and says where
it listens on its first lines; the token is made with `edgekv token create` before the start,
since tokens live in the store every process shares.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from edgekv.api._async.kv import AsyncKV
from edgekv.api._sync.kv import KV
from edgekv.cli.store_choice import data_dir_store_url

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_LISTENING = re.compile(r"edgekv listening on (http://\S+)")
_ACCOUNT = re.compile(r"account id: (\w+)")
_WORKERD = re.compile(r"workerd KV protocol: port (\d+)")
# `python -c` rather than the `edgekv` script: the interpreter running the tests has edgekv.
_EDGEKV = [sys.executable, "-c", "import sys; from edgekv.cli import main; sys.exit(main())"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without anything that would point edgekv or wrangler at other data."""
    drop = ("EDGEKV_", "CLOUDFLARE_", "WRANGLER_", "CF_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra or {})
    return env


def spawn_serve(
    command: list[str], log: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Starts an `edgekv serve` command; returns it and what it printed: url, account, workerd."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log.open("ab"), stdin=subprocess.DEVNULL, env=env
    )
    assert process.stdout is not None
    out, text, found = process.stdout.fileno(), "", {}
    deadline = time.monotonic() + START_TIMEOUT
    wants_workerd = "--workerd-port" in command
    while time.monotonic() < deadline:
        ready, _, _ = select.select([out], [], [], 0.25)
        if ready:
            chunk = os.read(out, 4096)
            if not chunk:
                break
            text += chunk.decode()
            for name, pattern in (
                ("url", _LISTENING),
                ("account", _ACCOUNT),
                ("workerd", _WORKERD),
            ):
                match = pattern.search(text)
                if match:
                    found[name] = match.group(1)
            if "url" in found and "account" in found and ("workerd" in found or not wants_workerd):
                return process, found
        elif process.poll() is not None:
            break
    stop_process(process)
    raise RuntimeError(f"edgekv serve did not start: {text}{log.read_text(errors='replace')}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a supervisor stops a server; SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


class EdgeKVServer:
    """A running `edgekv serve`: `url`, `rest_url`, `account_id`, `token`, `workerd_port`.

    Its store is `store` (a URL other processes can open: SQLite, PostgreSQL, Redis), else
    `kv.db` in `data_dir`. `kv()` / `async_kv()` talk to it over its REST API.
    """

    def __init__(self, data_dir: Path, *, store: str | None = None, workerd: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.store_url = store or data_dir_store_url(self.data_dir)
        self.workerd = workerd
        self.url = ""
        self.account_id = ""
        self.token = ""
        self.workerd_port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.data_dir / "serve.log"

    @property
    def rest_url(self) -> str:
        """The base URL of its REST API, as wrangler and the SDK take it."""
        return f"{self.url}/client/v4"

    def edgekv(self, *args: str) -> str:
        """Runs an `edgekv` command on the server's store; returns its stdout."""
        done = subprocess.run(
            [*_EDGEKV, *args, "--store", self.store_url],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"edgekv {' '.join(args)} failed: {done.stderr.decode()}")
        return done.stdout.decode().strip()

    def start(self) -> EdgeKVServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = self.edgekv("token", "create", "--name", "pytest")
        command = [*_EDGEKV, "serve", "--host", "127.0.0.1", "--port", "0"]
        command += ["--store", self.store_url]
        if self.workerd:
            command += ["--workerd-port", "0"]
        self.process, found = spawn_serve(command, self.log, clean_env())
        self.url, self.account_id = found["url"], found["account"]
        self.workerd_port = int(found["workerd"]) if "workerd" in found else None
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def kv(self, **options: Any) -> KV:
        """The Python API over the server's REST API (close it when done)."""
        return KV(self.url, token=self.token, account_id=self.account_id, **options)

    def async_kv(self, **options: Any) -> AsyncKV:
        return AsyncKV(self.url, token=self.token, account_id=self.account_id, **options)

    def workerd_service(self, name: str, namespace_id: str) -> str:
        """The workerd `config.capnp` service that binds `namespace_id` through this server
        (docs/workerd.md); bind it in a worker with `(name = "KV", kvNamespace = "<name>")`."""
        if self.workerd_port is None:
            raise RuntimeError("this server was started without the workerd protocol")
        return (
            f'(name = "{name}", external = (\n'
            f'  address = "127.0.0.1:{self.workerd_port}",\n'
            "  http = (injectRequestHeaders = [\n"
            f'    (name = "X-EdgeKV-Namespace", value = "{namespace_id}"),\n'
            f'    (name = "Authorization", value = "Bearer {self.token}"),\n'
            "  ]),\n"
            "))"
        )

    def __enter__(self) -> EdgeKVServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
