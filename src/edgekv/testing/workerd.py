"""workerd in a subprocess on a free loopback port, for tests of Workers bound to edgekv.

    with Workerd(binary, folder / "config.capnp", external={"kv": server.workerd_port}) as w:
        httpx.post(w.url, ...)

The config's socket named `http` is moved to a free port (`--socket-addr`), each external
service named in `external` to edgekv's workerd listener (`--external-addr`), and the port
workerd bound is read from its control fd, so nothing waits on a fixed port.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

START_TIMEOUT = 30.0


class Workerd:
    """`workerd serve CONFIG` with its `http` socket on a free port: `url` once started."""

    def __init__(self, binary: str | Path, config: Path, *, external: Mapping[str, int]) -> None:
        self.binary = str(binary)
        self.config = Path(config)
        self.external = dict(external)
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.config.with_name("workerd.log")

    def start(self) -> Workerd:
        read_fd, write_fd = os.pipe()
        command = [self.binary, "serve", self.config.name, "--socket-addr=http=127.0.0.1:0"]
        command += [f"--external-addr={n}=127.0.0.1:{p}" for n, p in self.external.items()]
        command.append(f"--control-fd={write_fd}")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.config.parent,
                pass_fds=[write_fd],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        os.close(write_fd)
        try:
            self.url = f"http://127.0.0.1:{self._listen_port(read_fd)}"
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)
        return self

    def _listen_port(self, read_fd: int) -> int:
        """Reads the control fd until workerd reports the port of the `http` socket."""
        assert self.process is not None
        buffer = b""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.25)
            if ready:
                chunk = os.read(read_fd, 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.splitlines():
                    event = json.loads(line) if line.strip().startswith(b"{") else {}
                    if event.get("event") == "listen" and event.get("socket") == "http":
                        return int(event["port"])
            if self.process.poll() is not None:
                break
        raise RuntimeError(f"workerd did not start: {self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> Workerd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
