"""An HTTP front for an edgekv server that answers as Cloudflare's API does where they differ
for `kv copy`: no change feed (404, code 7003), bulk reads of text or json only (400, code
10033), and value reads without edgekv's headers (no ETag, expiration or metadata: those come
from the list and the metadata route). Cloudflare itself cannot be reached from the tests;
everything else is the edgekv server's REST API, forwarded unchanged."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
_EDGEKV_ONLY = {"etag", "expiration", "cf-kv-metadata", "cf-cache-status"}


def _error(status: int, code: int, message: str) -> JSONResponse:
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": []}
    return JSONResponse({**body, "result": None}, status_code=status)


def _app(upstream: str) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=30.0)

    async def forward(request: Request) -> Response:
        path = request.url.path
        if "/storage/kv/changes" in path:
            return _error(404, 7003, f"Could not route to {path}")
        body = await request.body()
        if path.endswith("/bulk/get") and json.loads(body).get("type") not in (
            None,
            "text",
            "json",
        ):
            return _error(400, 10033, 'Invalid type. Use "json" or "text".')
        answer = await client.request(
            request.method,
            path,
            params=request.query_params,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=body,
        )
        dropped = _HOP | (_EDGEKV_ONLY if "/values/" in path else set())
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in dropped}
        return Response(answer.content, answer.status_code, headers)

    methods = ["GET", "PUT", "POST", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


@contextmanager
def cloudflare_like(upstream: str) -> Iterator[str]:
    """The front's base URL (`http://127.0.0.1:PORT/client/v4`), while the block runs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(_app(upstream), log_level="warning", lifespan="off"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve([sock]),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/client/v4"
    finally:
        server.should_exit = True
        thread.join(15)
        loop.close()
