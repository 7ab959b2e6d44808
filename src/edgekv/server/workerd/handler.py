"""The workerd KV protocol: what a Worker's KV binding sends to an external HTTP service.

workerd turns every binding call into a request that names no namespace and carries no
credentials (docs/contract.md, section 4). The external service in the workerd config adds both with
`injectRequestHeaders`: `X-EdgeKV-Namespace` (a namespace id, or a title in the server's
account) and `Authorization: Bearer <token>`. So one port serves every binding, and a token
that may not use the namespace gets 401/403 like any REST call.

`workerd_app(kv, authorize)` is a plain ASGI app. workerd shows a failed call to the Worker as
`KV <OP> failed: <status> <reason>`, taking the reason phrase from the status line, and no ASGI
server lets an app choose that phrase. So the app puts the contract message in the
`http.response.start` message under the extra key `reason` (ASGI servers ignore unknown keys)
and in the `CF-KV-Error` header; `edgekv.server.workerd.listener` is a small HTTP/1.1 server
that honours `reason`. Mounted in an ordinary ASGI server, everything works the same except
that the Worker sees the standard phrase (`413 Request Entity Too Large`).
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from edgekv import errors, limits
from edgekv.analytics.counting import Usage, is_edge_hit, value_size
from edgekv.api._async.kv import AsyncKV, AsyncNamespace
from edgekv.compact import json_bytes
from edgekv.json_in import parse_json
from edgekv.model import NamespaceInfo
from edgekv.server.accounts import Accounts
from edgekv.server.asgi import ASGIApp, Receive, Scope, Send
from edgekv.server.auth import Principal, credential
from edgekv.server.envelope import AuthenticationError, Forbidden, MethodNotAllowed
from edgekv.server.paths import percent_decode
from edgekv.server.request_id import internal_error, log_unexpected
from edgekv.server.rest.bodies import flag
from edgekv.server.writes import Writes, entry_write

Authorize = Callable[[str | None, NamespaceInfo, bool], bool | Awaitable[bool]]
"""`authorize(token, namespace, write)`: may this bearer token (None: the request has none) use
the namespace, to write (put, delete) or only to read? False answers 403; raising a KVError (such
as AuthenticationError, 401) answers with that error."""

NAMESPACE_HEADER = b"x-edgekv-namespace"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_CACHED_NAMESPACES = 1024
_JSON = [(b"content-type", b"application/json")]


def workerd_app(
    kv: AsyncKV,
    authorize: Authorize | None = None,
    writes: Writes | None = None,
    clock: Callable[[], float] = time.time,
    usage: Usage | None = None,
) -> ASGIApp:
    """The workerd KV protocol over `kv`, as an ASGI app.

    `authorize(token, namespace, write)` is called on every request with the bearer token, the
    namespace the request names and whether it writes; it returns (or awaits to) True to let the
    request through. A request without a token is refused (401) before the namespace is looked
    up. Without `authorize` every request is allowed: only for a listener that nothing but a
    trusted workerd can reach.
    `usage` counts each operation as Cloudflare bills it (analytics/counting.py).
    """
    return _WorkerdApp(kv, authorize, writes or Writes(kv.store, group_commit=False), clock, usage)


def token_authorizer(accounts: Accounts) -> Authorize:
    """Checks a token as the REST API does: its account, its namespaces, read-only or not."""

    async def authorize(token: str | None, namespace: NamespaceInfo, write: bool) -> bool:
        found = None if token is None else await accounts.verify(token)
        if found is None:
            raise AuthenticationError()
        return Principal(found).sees_namespace(namespace) and not (write and found.read_only)

    return authorize


class _Request:
    """The request body, read on demand; `drain` reads what the handler left unread."""

    __slots__ = ("_receive", "done")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self.done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.done = True
                raise errors.BadRequest("client disconnected")
            self.done = not message.get("more_body", False)
            body = message.get("body", b"")
            if body:
                yield body

    async def body(self, limit: int) -> bytes:
        parts = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise errors.BadRequest(f"Request body exceeds {limit} bytes.")
            parts.append(chunk)
        return b"".join(parts)

    async def drain(self) -> None:
        # An answer sent before the body is read makes workerd report "Network connection lost."
        try:
            async for _ in self.chunks():
                pass
        except errors.KVError:
            pass


class _WorkerdApp:
    def __init__(
        self,
        kv: AsyncKV,
        authorize: Authorize | None,
        writes: Writes,
        clock: Callable[[], float],
        usage: Usage | None,
    ) -> None:
        self.kv = kv
        self.usage = usage
        self.writes = writes
        self.clock = clock
        self.authorize = authorize
        self._by_id: dict[str, AsyncNamespace] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = _Request(receive)
        try:
            await self._handle(scope, request, send)
        except errors.KVError as e:
            await request.drain()
            await _error(send, e.status, e.message)
        except Exception as e:
            log_unexpected(scope, e)
            await request.drain()
            await _error(send, 500, internal_error(scope).message)

    async def _handle(self, scope: Scope, request: _Request, send: Send) -> None:
        headers = dict(scope["headers"])
        method = scope["method"]
        ns = await self._namespace(headers, write=method in ("PUT", "DELETE"))
        path = _raw_path(scope)
        query = scope.get("query_string", b"")
        if path in (b"/", b""):
            if method != "GET":
                raise MethodNotAllowed()
            await _list(ns, query, send)
            self._count(ns, "list")
        elif path == b"/bulk/get" and method == "POST":
            keys, size = await _bulk_get(ns, await request.body(1 << 20), send)
            self._count(ns, "read", keys, size)  # a bulk read is billed per key
        else:
            key = percent_decode(path[1:])
            if method == "GET":
                size, hit = await _get(ns, key, query, send)
                if self.usage is not None:
                    self.usage.read(ns.info, size, hit)
            elif method == "PUT":
                size = await self._put(ns.id, key, query, headers, request, send)
                self._count(ns, "write", 1, size)
            elif method == "DELETE":
                await ns.delete(key)
                self._count(ns, "delete")
                await _respond(send, 200, b"")
            else:
                raise MethodNotAllowed()

    def _count(self, ns: AsyncNamespace, action: str, requests: int = 1, size: int = 0) -> None:
        if self.usage is not None:
            self.usage.add(ns.info, action, requests, size)

    async def _put(
        self,
        namespace_id: str,
        key: str,
        query: bytes,
        headers: dict[bytes, bytes],
        request: _Request,
        send: Send,
    ) -> int:
        """A value write, through the server's one write path (server/writes.py); returns
        the bytes written."""
        params = _query(query)
        key = limits.validate_key(key)
        expiration = limits.resolve_expiration(
            params.get("expiration"), params.get("expiration_ttl"), self.clock()
        )
        metadata_json = None
        if b"cf-kv-metadata" in headers:
            metadata_json = limits.parse_metadata_json(
                headers[b"cf-kv-metadata"].decode("utf-8", "replace")
            )
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and len(length) <= 19:
            limits.check_value_size(int(length))
        write = await entry_write(key, request.chunks(), metadata_json, expiration)
        try:
            version = await self.writes.put(namespace_id, write)
        finally:
            if not isinstance(write.value, bytes):
                write.value.close()
        await _respond(send, 200, b"", [(b"etag", f'"{version}"'.encode())])
        return write.size

    async def _namespace(self, headers: dict[bytes, bytes], *, write: bool) -> AsyncNamespace:
        token = credential(list(headers.items()))
        if self.authorize is not None and token is None:
            raise AuthenticationError()
        name = headers.get(NAMESPACE_HEADER, b"").decode("utf-8", "replace").strip()
        if not name:
            raise errors.BadRequest(
                "No namespace: the workerd config must add an X-EdgeKV-Namespace header "
                "(injectRequestHeaders) naming the namespace id or title."
            )
        ns = self._by_id.get(name)
        if ns is None:
            ns = await self.kv.namespace(name)
            # Ids never change; a deleted namespace makes the store raise NamespaceNotFound.
            if limits.NAMESPACE_ID.fullmatch(name) and len(self._by_id) < _MAX_CACHED_NAMESPACES:
                self._by_id[name] = ns
        if self.authorize is not None:
            allowed = self.authorize(token, ns.info, write)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                raise Forbidden()
        return ns


async def _get(ns: AsyncNamespace, key: str, query: bytes, send: Send) -> tuple[int, bool]:
    """Answers a read; returns the bytes read and whether the edge's memory answered."""
    params = _query(query)
    got = await ns.get_with_metadata(key, "bytes", cache_ttl=_int_or_none(params, "cache_ttl"))
    if got.value is None:
        await _error(send, 404, "Not Found")
        return 0, False
    headers = [(b"cf-cache-status", (got.cache_status or "MISS").encode())]
    if got.metadata is not None:
        headers.append((b"cf-kv-metadata", json_bytes(got.metadata)))
    if got.expiration is not None:
        headers.append((b"expiration", str(got.expiration).encode()))
    if got.version is not None:
        headers.append((b"etag", f'"{got.version}"'.encode()))
    await _respond(send, 200, got.value, headers)
    return len(got.value), is_edge_hit(got.cache_status)


async def _list(ns: AsyncNamespace, query: bytes, send: Send) -> None:
    params = _query(query)
    page = await ns.list(
        prefix=params.get("prefix"),
        limit=limits.validate_list_limit(params.get("key_count_limit")),
        cursor=params.get("cursor") or None,
    )
    keys = []
    for k in page.keys:
        item: dict[str, Any] = {"name": k.name}
        if k.expiration is not None:
            item["expiration"] = k.expiration
        if k.metadata_json is not None:
            # workerd JSON.parses a string `metadata`: sending every metadata as its JSON text
            # keeps metadata that is itself a string intact.
            item["metadata"] = k.metadata_json
        keys.append(item)
    body: dict[str, Any] = {"keys": keys, "list_complete": page.list_complete}
    if page.cursor is not None:
        body["cursor"] = page.cursor
    await _respond(send, 200, json_bytes(body), _JSON)


async def _bulk_get(ns: AsyncNamespace, raw: bytes, send: Send) -> tuple[int, int]:
    """Answers a bulk read; returns the keys read and the bytes of their values."""
    try:
        body = parse_json(raw)
    except ValueError as e:
        raise errors.InvalidBulkRequest("The request body must be JSON.") from e
    if not isinstance(body, dict):
        raise errors.InvalidBulkRequest("The request body must be a JSON object.")
    keys = body.get("keys")
    if not isinstance(keys, list):
        raise errors.InvalidBulkRequest("Keys must be an array of strings.")
    # Keys, type and cacheTtl (a string, from workerd) are the namespace handle's to validate.
    type_: Any = body.get("type") or "text"
    ttl = body.get("cacheTtl")
    result: dict[str, Any]
    if flag(body, "withMetadata"):
        found = await ns.get_with_metadata(keys, type_, cache_ttl=ttl)
        result = {
            k: None if v is None else {"value": v.value, "metadata": v.metadata}
            for k, v in found.items()
        }
        size = sum(value_size(v.value) for v in found.values() if v is not None)
    else:
        result = await ns.get(keys, type_, cache_ttl=ttl)
        size = sum(map(value_size, result.values()))
    await _respond(send, 200, json_bytes(result), _JSON)
    return len(keys), size


def _raw_path(scope: Scope) -> bytes:
    """The path as sent, so `/bulk/get` (the bulk read) and `/bulk%2Fget` (a key) differ."""
    raw = scope.get("raw_path")
    if raw is None:
        return str(scope["path"]).encode()
    raw = bytes(raw).split(b"?", 1)[0]
    root = str(scope.get("root_path", "")).encode()
    # Mounted under a prefix, the raw path still carries it.
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    return raw


def _query(query: bytes) -> dict[str, str]:
    """The query, form-decoded (a list prefix sends a space as `+`)."""
    parsed = parse_qs(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
    return {name: values[-1] for name, values in parsed.items()}


def _int_or_none(params: dict[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    return limits.validate_cache_ttl(text)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    out = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def _error(send: Send, status: int, message: str) -> None:
    # workerd ignores the body and opens a new connection after an answer it did not read:
    # the message travels in the reason phrase (and a header, for ASGI servers), body empty.
    # A message may echo what the client sent: no control character may reach the status line
    # or a header (h11 refuses them, and the connection would be dropped).
    reason = _CONTROLS.sub(" ", message).encode("latin-1", "replace")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "reason": reason,
            "headers": [
                (b"content-length", b"0"),
                (b"cf-kv-error", reason),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
