"""The anchor of bench_server: an ASGI app that answers 100 bytes, served exactly as
`edgekv serve` serves its app (edgekv.server.run.serve: uvicorn, uvloop, httptools, same
options), so the ratio measures edgekv's own work per request and nothing else.

With `starlette`, the same 100 bytes come from one Starlette route instead: the floor any
Starlette app pays on this stack, printed for context (it is not a goal's anchor).

usage: python -m benchmarks.server_bare PORT [starlette]  (prints `listening on http://H:P`)
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edgekv.server.run import serve

BODY = b"v" * 100
Message = MutableMapping[str, Any]

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", b"100")],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body as a real handler must, so PUTs cost the same here
        more = (await receive()).get("more_body", False)
    await send(_START)
    await send(_BODY)


async def _route(request: Request) -> Response:
    return Response(BODY, media_type="application/octet-stream")


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/{path:path}", _route, methods=["GET", "PUT"])])


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    served = starlette_app() if sys.argv[2:] == ["starlette"] else cast(Starlette, app)

    def listening(host: str, bound: int) -> None:
        print(f"listening on http://{host}:{bound}", flush=True)

    serve(served, "127.0.0.1", port, on_listening=listening, graceful_timeout=5)


if __name__ == "__main__":
    main()
