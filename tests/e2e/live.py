"""A real `edgekv serve` in a subprocess, and the real wrangler CLI pointed at it.

The server runs exactly as a user starts it (`edgekv serve --port 0 --data-dir DIR`) and says
where it listens on its first stdout line. Tests read what wrangler changed straight from the
server's SQLite file with the Python API, so a check never goes through the code under test
twice.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekv import KV
from edgekv.cli.store_choice import data_dir_store_url
from edgekv.testing.server import clean_env
from edgekv.testing.server import spawn_serve as start_serve
from edgekv.testing.server import stop_process as stop_process  # tests/edge use it from here

EDGEKV = str(Path(sys.executable).with_name("edgekv"))
NODE_DIR = Path(__file__).parent / "node"
WRANGLER = NODE_DIR / "node_modules" / ".bin" / "wrangler"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without anything that would point a tool at other data."""
    return clean_env(
        {
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "xdg"),
            "XDG_CONFIG_HOME": str(home / "cfg"),
        }
    )


def spawn_serve(
    command: list[str], home: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Starts an `edgekv serve` command; returns it with the URL and account id it printed."""
    process, found = start_serve(command, log, _clean_env(home))
    return process, found["url"], found["account"]


class LiveServer:
    """`edgekv serve` on a free loopback port over the SQLite store in `data_dir`."""

    def __init__(self, data_dir: Path, home: Path) -> None:
        self.data_dir = data_dir
        self.home = home
        self.store_url = data_dir_store_url(data_dir)
        self.url = ""
        self.account_id = ""
        self.token = ""  # a read-write token of the default account, made before the start
        self.process: subprocess.Popen[bytes] | None = None
        self._log = data_dir / "serve.log"

    def edgekv(self, *args: str) -> str:
        """Runs an `edgekv` admin command on the server's store; returns its stdout."""
        done = subprocess.run(
            [EDGEKV, *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=_clean_env(self.home),
            timeout=60,
        )
        if done.returncode != 0:
            raise AssertionError(f"edgekv {' '.join(args)} failed: {done.stderr.decode()}")
        return done.stdout.decode().strip()

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Made before the server starts: tokens live in the store, which every process shares.
        self.token = self.edgekv("token", "create", "--name", "wrangler e2e")
        command = [EDGEKV, "serve", "--host", "127.0.0.1", "--port", "0"]
        command += ["--data-dir", str(self.data_dir)]
        self.process, self.url, self.account_id = spawn_serve(command, self.home, self._log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def kv(self, account_id: str | None = None) -> KV:
        """The Python API over the server's own store file (another process, same data)."""
        return KV(self.store_url, account_id=account_id or self.account_id)


@dataclass
class Ran:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return _ANSI.sub("", self.out.decode(errors="replace"))

    @property
    def both(self) -> str:
        """stdout and stderr together: wrangler prints errors on either."""
        return self.text + _ANSI.sub("", self.err)

    def json(self) -> Any:
        """The JSON document wrangler printed on stdout (list commands print nothing else)."""
        text = self.text
        start = min(i for i in (text.find("["), text.find("{")) if i >= 0)
        value, _ = json.JSONDecoder().raw_decode(text[start:])
        return value


class Wrangler:
    """Runs `wrangler` (4.86.0, from tests/e2e/node) against a LiveServer in a folder of its own."""

    def __init__(
        self, server: LiveServer, token: str, cwd: Path, *, account_id: str | None
    ) -> None:
        self.server = server
        self.cwd = cwd
        self.env = _clean_env(cwd / "home")
        self.env.update(
            CLOUDFLARE_API_BASE_URL=f"{server.url}/client/v4",
            CLOUDFLARE_API_TOKEN=token,
            WRANGLER_SEND_METRICS="false",
            WRANGLER_SEND_ERROR_REPORTS="false",
            CI="true",
            NO_COLOR="1",
            FORCE_COLOR="0",
        )
        if account_id is not None:
            self.env["CLOUDFLARE_ACCOUNT_ID"] = account_id

    def run(self, *args: str, ok: bool = True) -> Ran:
        done = subprocess.run(
            [str(WRANGLER), *args],
            stdin=subprocess.DEVNULL,  # no TTY: wrangler takes its non-interactive defaults
            capture_output=True,
            cwd=self.cwd,
            env=self.env,
            timeout=120,
        )
        ran = Ran(done.returncode, done.stdout, done.stderr.decode(errors="replace"))
        if ok and ran.code != 0:
            raise AssertionError(f"wrangler {' '.join(args)} failed ({ran.code}):\n{ran.both}")
        return ran

    def fail(self, *args: str) -> str:
        """Runs a command that must fail; returns what it printed."""
        ran = self.run(*args, ok=False)
        assert ran.code == 1, f"wrangler {' '.join(args)} exited {ran.code}:\n{ran.both}"
        return ran.both
