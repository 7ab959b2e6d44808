"""Running the app: uvicorn (uvloop + httptools where installed), graceful on SIGTERM/SIGINT.

On a signal the server stops accepting connections, lets the requests in flight finish (writes
included: a write is acknowledged only after the store committed it), closes idle keep-alive
connections, then closes the store. See docs/server.md for why uvicorn.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from starlette.applications import Starlette


def is_loopback(host: str) -> bool:
    """True when `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def redact(url: str) -> str:
    """A store URL fit to print: any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class ListeningServer(uvicorn.Server):
    """uvicorn, calling `on_listening(host, port)` once its sockets accept."""

    def __init__(self, config: uvicorn.Config, on_listening: Callable[[str, int], None]) -> None:
        super().__init__(config)
        self._on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self._on_listening(str(host), int(port))


def serve(
    app: Starlette,
    host: str,
    port: int,
    *,
    on_listening: Callable[[str, int], None],
    graceful_timeout: float = 30.0,
    log_level: str = "warning",
) -> None:
    """Serves until SIGTERM/SIGINT; `on_listening(host, port)` runs once the socket is bound."""
    config = uvicorn_config(app, graceful_timeout, log_level, host=host, port=port)
    ListeningServer(config, on_listening).run()


def uvicorn_config(
    app: Any, graceful_timeout: float, log_level: str, *, host: str = "127.0.0.1", port: int = 0
) -> uvicorn.Config:
    """How edgekv runs uvicorn, in one process or in each worker of a node."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",  # uvloop where installed
        http="auto",  # httptools where installed
        lifespan="on",
        access_log=False,  # edgekv's own structured access log, when asked for
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=int(graceful_timeout),
    )


def startup_lines(
    url: str,
    account_id: str,
    store_url: str,
    auth: bool,
    workerd_port: int | None = None,
    dashboard: bool = False,
) -> list[str]:
    lines = [
        f"edgekv listening on {url} (store: {redact(store_url)})",
        f"  account id: {account_id}",
    ]
    if auth:
        lines += [
            "  auth: every request needs a token. Create one with `edgekv token create` and send",
            "        `Authorization: Bearer <token>` (wrangler: CLOUDFLARE_API_TOKEN=<token>)",
        ]
    else:
        lines.append(
            "  auth: OFF (--no-auth): every process on this machine can read and write every account"
        )
    lines.append(
        f"  REST API: {url}/client/v4 (wrangler: CLOUDFLARE_API_BASE_URL={url}/client/v4 "
        f"CLOUDFLARE_ACCOUNT_ID={account_id})"
    )
    if workerd_port is not None:
        lines.append(f"  workerd KV protocol: port {workerd_port}")
    if dashboard:
        lines.append(f"  dashboard: {url}/dashboard")
    return lines


def echo_lines(lines: list[str], out: TextIO = sys.stdout) -> None:
    out.write("\n".join(lines) + "\n")
    out.flush()
