"""FastAPI and Starlette: a dependency that hands routes a namespace, and a response cache.

    kv = AsyncKV("sqlite:///./data/kv.db")
    config_ns = namespace_dependency(kv, "CONFIG")

    @app.get("/config/{key}")
    async def read(key: str, ns: AsyncNamespace = Depends(config_ns)): ...

    app.add_middleware(ResponseCache, cache=AsyncCache(ns), ttl="30s", paths=("/products",))

Only ASGI types are used here, so Starlette apps need nothing from FastAPI.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from edgekv.api._async.kv import AsyncKV, AsyncNamespace
from edgekv.cache._async.cache import AsyncCache
from edgekv.cache.durations import Duration

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CACHE_HEADER = b"x-edgekv-cache"


def namespace_dependency(
    kv: AsyncKV, title: str, *, create: bool = True
) -> Callable[[], Awaitable[AsyncNamespace]]:
    """A dependency returning the namespace titled `title` (created on first use if asked)."""
    handle: AsyncNamespace | None = None

    async def dependency() -> AsyncNamespace:
        nonlocal handle
        if handle is None:
            handle = await kv.namespace(title, create=create)
        return handle

    return dependency


def default_key(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return f"http:{scope['path']}?{query}" if query else f"http:{scope['path']}"


class ResponseCache:
    """ASGI middleware caching whole GET responses in an AsyncCache (memory -> KV).

    Cached: status in `statuses`, no Set-Cookie, no `Cache-Control: no-store/private`. Requests
    with `Cache-Control: no-cache` bypass the cache. Responses carry `x-edgekv-cache: HIT|MISS`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: AsyncCache,
        ttl: Duration | None = None,
        paths: Iterable[str] = ("/",),
        statuses: Iterable[int] = (200,),
        key: Callable[[Scope], str | None] = default_key,
    ) -> None:
        self.app = app
        self.cache = cache
        self.ttl = ttl
        self.paths = tuple(paths)
        self.statuses = frozenset(statuses)
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not str(scope["path"]).startswith(self.paths)
            or _header(scope.get("headers", []), b"cache-control").find(b"no-cache") >= 0
        ):
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        hit = await self.cache.get(key)
        if hit is not None:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in hit["headers"]]
            await send(
                {
                    "type": "http.response.start",
                    "status": hit["status"],
                    "headers": [*headers, (CACHE_HEADER, b"HIT")],
                }
            )
            await send({"type": "http.response.body", "body": base64.b64decode(hit["body"])})
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (CACHE_HEADER, b"MISS")],
                }
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False) and self._cacheable(start):
                    await self.cache.set(
                        key,
                        {
                            "status": start["status"],
                            "headers": [
                                (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                                for k, v in start.get("headers", [])
                            ],
                            "body": base64.b64encode(b"".join(chunks)).decode(),
                        },
                        self.ttl,
                    )
            await send(message)

        await self.app(scope, receive, capture)

    def _cacheable(self, start: Message) -> bool:
        if start.get("status") not in self.statuses:
            return False
        headers = start.get("headers", [])
        if _header(headers, b"set-cookie"):
            return False
        control = _header(headers, b"cache-control").lower()
        return b"no-store" not in control and b"private" not in control


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes:
    for k, v in headers:
        if bytes(k).lower() == name:
            return bytes(v)
    return b""
