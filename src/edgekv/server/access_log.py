"""Structured access logs (one JSON object per request on the `edgekv.access` logger), off by
default. They name the method, path, status, size, duration and request id (the answer's
`X-Request-Id`), never a header: no token ever
reaches a log line."""

from __future__ import annotations

import logging
import time

from edgekv.compact import compact_json
from edgekv.server.asgi import ASGIApp, Message, Receive, Scope, Send
from edgekv.server.request_id import request_id

access_log = logging.getLogger("edgekv.access")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        size = 0

        async def send_logged(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            raw = scope.get("raw_path") or str(scope["path"]).encode()
            client = scope.get("client")
            access_log.info(
                compact_json(
                    {
                        "time": round(time.time(), 3),
                        "client": client[0] if client else None,
                        "method": scope["method"],
                        "path": bytes(raw).decode("latin-1"),
                        "status": status,
                        "bytes": size,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "request_id": request_id(scope),
                    }
                )
            )
