"""`GET`, `PUT` and `DELETE .../accounts/{a}/storage/kv/namespaces/{ns}/values/{key}`.

These are most of a KV server's traffic, and Starlette's stack (middleware, router, Request,
Response) costs more than their own work, so they are written in raw ASGI and are the app's
entry: a request for a value route is answered here, every other one goes on to the router. This is their only implementation: every form of a value read
(cache_ttl, Cache-Control: no-cache, large values streamed) and of a value write (raw bytes,
CF-KV-Metadata, multipart, If-Match / If-None-Match, bodies of any size) is served here, and
`benchmarks/bench_server.py` keeps the figure of what entering them before the router gains.

A read goes to the edge's one door (`open_value`), so HIT, MISS, EXPIRED, STALE and BYPASS are
decided as for every other read. A write goes through `Writes` (group commit), as the workerd
protocol's writes do. Each input is validated once, here, where it enters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from time import perf_counter
from urllib.parse import parse_qsl

from starlette.requests import Request

from edgekv import errors, limits
from edgekv.analytics.counting import Usage, is_edge_hit
from edgekv.compact import compact_json
from edgekv.model import EntryWrite, NamespaceInfo, StoredEntry
from edgekv.server.asgi import ASGIApp, Message, Receive, Scope, Send
from edgekv.server.auth import CREDENTIAL_HEADERS, Authenticator
from edgekv.server.envelope import MalformedRequest, MethodNotAllowed, failure, ok
from edgekv.server.metrics.requests import ROUTE, VALUES, RequestMetrics, add
from edgekv.server.paths import ACCOUNTS, V4Path, path_key, v4_path
from edgekv.server.request_id import internal_error, log_unexpected, request_id
from edgekv.server.rest import bodies
from edgekv.server.rest.streaming import BUFFER, AnswerStarted, send_value
from edgekv.server.writes import Writes, entry_write
from edgekv.stores._async.protocol import AsyncStore, AsyncWholeValue

Headers = list[tuple[bytes, bytes]]

ALLOW = "GET, HEAD, PUT, DELETE"
# Headers of a request in the workerd protocol (any path may carry one): not ours to answer.
WORKERD_HEADERS = frozenset({b"cf-kv-flprod-405", b"x-edgekv-namespace"})
_OCTET_STREAM = (b"content-type", b"application/octet-stream")
_WRITTEN = ok({})  # what a value write and a delete answer, besides a write's ETag
_WRITTEN_TAIL = list(_WRITTEN.raw_headers)
_HEADERS_KEPT = 10_000
TEMPLATE = VALUES  # the route, as /metrics names it
# Kept headers: the entry they were made for, the headers, its namespace, and (with usage
# counted) [reads answered with them since last counted, the value's size].
_Hit = tuple[StoredEntry, Headers, NamespaceInfo, list[int] | None]


class ValueRoutes:
    """The value routes over one store (an edge, or a central store), as one ASGI handler."""

    def __init__(
        self,
        store: AsyncStore,
        authenticator: Authenticator,
        writes: Writes,
        clock: Callable[[], float],
        usage: Usage | None = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.writes = writes
        self.clock = clock
        self.usage = usage  # counts each operation once, where it is answered (None: off)
        self.elsewhere: ASGIApp | None = None  # the router: every other request goes there
        self.counted: RequestMetrics | None = None  # where requests are counted, for /metrics
        self._got: list[float] = []  # the counts of GET 200, the hot series, kept at hand
        # Answer headers of small values, by (namespace, key), with the entry they were made
        # for: an edge answers a hot key with the same entry object until it changes.
        # With usage counted, each also keeps a tally of the reads it answered ([reads, value
        # size]): one increment on the hottest path, added to `usage` when it takes its counts.
        self._hits: dict[tuple[str, str], _Hit] = {}
        if usage is not None:
            usage.before_take.append(self._count_hits)

    def count_into(self, counted: RequestMetrics) -> None:
        """Counts every request answered here into `counted` (for /metrics)."""
        self.counted = counted
        self._got = counted.slot(TEMPLATE, "GET", 200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's entry: a value route's request is answered here, any other goes on to
        `elsewhere` (the router)."""
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            if raw is not None and raw.startswith(ACCOUNTS) and not scope.get("root_path"):
                path = v4_path(raw)
                if (
                    path is not None
                    and path.what == b"values"
                    and path.rest is not None
                    and await self.answer(scope, receive, send, path)
                ):
                    return
        assert self.elsewhere is not None
        await self.elsewhere(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, send: Send, path: V4Path) -> bool:
        """Answers a request for `.../values/{key}` (`path.rest` holds the key); False, with
        nothing read or sent, for a request in the workerd protocol (not ours)."""
        scope[ROUTE] = TEMPLATE
        counted = self.counted
        started = perf_counter() if counted is not None else 0.0
        status = 200
        answered = True
        try:
            method = scope["method"]
            if method == "GET" or method == "HEAD":
                answered = await self._get(scope, send, path)
            elif method == "PUT":
                answered = await self._put(scope, receive, send, path)
            elif method == "DELETE":
                answered = await self._delete(scope, send, path)
            else:
                raise MethodNotAllowed()
        except AnswerStarted:
            raise  # no other answer can be given: the server drops the connection
        except errors.KVError as e:
            # A failure names its request id (RequestIds lets these routes' answers pass).
            status = e.status
            headers = {"X-Request-Id": request_id(scope)}
            if isinstance(e, MethodNotAllowed):
                headers["Allow"] = ALLOW
            await failure(e, headers)(scope, receive, send)
        except Exception as e:
            # Logged, and answered as the app answers unexpected errors: a 500 envelope, on a
            # connection that stays usable.
            status = 500
            log_unexpected(scope, e)
            error = internal_error(scope)
            await failure(error, {"X-Request-Id": request_id(scope)})(scope, receive, send)
        finally:
            # Counted here, not by wrapping `send`: a wrapper costs a hot GET about a tenth.
            if counted is not None and answered:
                if status == 200 and method == "GET":
                    add(self._got, perf_counter() - started)
                else:
                    counted.observe_method(
                        TEMPLATE, scope["method"], status, perf_counter() - started
                    )
        return answered

    # reads

    async def _get(self, scope: Scope, send: Send, path: V4Path) -> bool:
        """Answers a value read; False (nothing sent) for a request in the workerd protocol."""
        credentials = []
        cache_ttl: int | None = None
        for name, value in scope["headers"]:
            if name in CREDENTIAL_HEADERS:
                credentials.append((name, value))
            elif name == b"cache-control" and b"no-cache" in value.lower():
                cache_ttl = 0  # a strong read: no cache may answer
            elif name in WORKERD_HEADERS:
                return False
        info = await self.authenticator.namespace(scope, path, credentials)
        key = path_key(path.rest)  # type: ignore[arg-type]
        if cache_ttl is None and scope["query_string"]:
            cache_ttl = _cache_ttl(scope["query_string"])
        opened = await self.store.open_value(info.id, key, cache_ttl=cache_ttl, chunk_size=BUFFER)
        usage = self.usage
        if opened is None:
            if usage is not None:
                usage.read(info, 0, False)  # a read of a missing key is billed too
            raise errors.KeyNotFound()
        entry, chunks = opened
        if isinstance(chunks, AsyncWholeValue) and len(chunks.value) <= BUFFER:
            headers = self._whole_headers(info, key, entry, len(chunks.value))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": chunks.value})
            return True
        size = await send_value(send, chunks, _value_headers(entry))
        if usage is not None:
            usage.read(info, size, is_edge_hit(entry.cache_status))
        return True

    def _whole_headers(
        self, info: NamespaceInfo, key: str, entry: StoredEntry, size: int
    ) -> Headers:
        """The headers of a small value, made once per entry an edge answers with; counts the
        read (here, so the hottest reads cost one increment)."""
        found = self._hits.get((info.id, key))
        if found is not None and found[0] is entry:
            tally = found[3]
            if tally is not None:
                tally[0] += 1
            return found[1]
        usage = self.usage
        if usage is not None:
            usage.read(info, size, is_edge_hit(entry.cache_status))
            if found is not None:
                self._count_hit(found)  # the entry it was made for changed
        headers = _value_headers(entry)
        headers.append((b"content-length", b"%d" % size))
        if entry.cache_status == "HIT":  # the entry an edge keeps: it will come again
            if len(self._hits) >= _HEADERS_KEPT:
                self._count_hits()
                self._hits.clear()
            tally = None if usage is None else [0, size]
            self._hits[(info.id, key)] = (entry, headers, info, tally)
        return headers

    def _count_hit(self, hit: _Hit) -> None:
        tally = hit[3]
        if tally is not None and tally[0] and self.usage is not None:
            self.usage.add(hit[2], "read", tally[0], tally[0] * tally[1], hits=tally[0])
            tally[0] = 0

    def _count_hits(self) -> None:
        """Adds the reads the kept headers answered to `usage` (before it takes its counts)."""
        for hit in self._hits.values():
            self._count_hit(hit)

    # writes

    async def _put(self, scope: Scope, receive: Receive, send: Send, path: V4Path) -> bool:
        """Answers a value write; False (nothing read or sent) for the workerd protocol."""
        credentials = []
        length = None
        content_type = b""
        if_match = if_none_match = metadata = None
        for name, value in scope["headers"]:
            if name in CREDENTIAL_HEADERS:
                credentials.append((name, value))
            elif name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value.lower()
            elif name == b"if-match":
                if_match = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"cf-kv-metadata":
                metadata = value
            elif name in WORKERD_HEADERS:
                return False
        info = await self.authenticator.namespace(scope, path, credentials)
        key = path_key(path.rest)  # type: ignore[arg-type]
        expiration = _expiration(scope["query_string"], self.clock())
        only_if_absent = if_none_match is not None and if_none_match.strip() == b"*"
        if_version = _if_match(if_match)
        if content_type.startswith(b"multipart/form-data"):
            if metadata is not None:
                raise MalformedRequest(
                    'A multipart value write carries its metadata in a "metadata" part, '
                    "not a CF-KV-Metadata header."
                )
            write = await self._form_write(scope, receive, key, expiration)
        else:
            metadata_json = _metadata_header(metadata)
            if (
                length is not None
                and length.isdigit()
                and len(length) <= 8
                and int(length) <= bodies.IN_MEMORY
            ):
                value = await _small_body(receive, int(length))
                write = EntryWrite(key, value, metadata_json, expiration, len(value))
            else:
                stream = await bodies.read_value(Request(scope, receive))
                write = await entry_write(key, stream, metadata_json, expiration)
        try:
            version = await self.writes.put(
                info.id, write, only_if_absent=only_if_absent, if_version=if_version
            )
        finally:
            if not isinstance(write.value, bytes):
                write.value.close()
        if self.usage is not None:
            self.usage.add(info, "write", 1, write.size)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"etag", b'"%d"' % version), *_WRITTEN_TAIL],
            }
        )
        await send({"type": "http.response.body", "body": _WRITTEN.body})
        return True

    async def _form_write(
        self, scope: Scope, receive: Receive, key: str, expiration: int | None
    ) -> EntryWrite:
        """A multipart value write (wrangler with --metadata, the official SDK)."""
        form = await bodies.read_form(Request(scope, receive))
        try:
            value = form.value_bytes_or_file()
            metadata_json = limits.metadata_json(form.metadata_value())
            if isinstance(value, bytes):
                return EntryWrite(key, value, metadata_json, expiration, len(value))
            return await entry_write(key, value, metadata_json, expiration)
        finally:
            form.close()

    async def _delete(self, scope: Scope, send: Send, path: V4Path) -> bool:
        """Answers a value delete; False (nothing sent) for the workerd protocol."""
        credentials = []
        for name, value in scope["headers"]:
            if name in CREDENTIAL_HEADERS:
                credentials.append((name, value))
            elif name in WORKERD_HEADERS:
                return False
        info = await self.authenticator.namespace(scope, path, credentials)
        key = path_key(path.rest)  # type: ignore[arg-type]
        await self.store.delete_many(info.id, [key])
        if self.usage is not None:
            self.usage.add(info, "delete")
        await _WRITTEN(scope, _no_body, send)
        return True


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _value_headers(entry: StoredEntry) -> Headers:
    """A value's headers: ETag, expiration, CF-KV-Metadata, CF-Cache-Status, the last write
    (X-EdgeKV-Written-At, edgekv's), content type."""
    headers = [(b"etag", b'"%d"' % entry.version)]
    if entry.expiration is not None:
        headers.append((b"expiration", b"%d" % entry.expiration))
    if entry.written_at is not None:
        headers.append((b"x-edgekv-written-at", b"%d" % entry.written_at))
    if entry.metadata_json is not None:
        metadata = json.loads(entry.metadata_json)
        if metadata is not None:
            headers.append((b"cf-kv-metadata", compact_json(metadata, ascii=True).encode()))
    if entry.cache_status is not None:
        headers.append((b"cf-cache-status", entry.cache_status.encode()))
    headers.append(_OCTET_STREAM)
    return headers


def _query(query_string: bytes) -> dict[str, str]:
    return dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


def _cache_ttl(query_string: bytes) -> int | None:
    text = _query(query_string).get("cache_ttl")
    return None if not text else limits.validate_cache_ttl(text)


def _expiration(query_string: bytes, now: float) -> int | None:
    """The write's expiry from `expiration` / `expiration_ttl`, refused before the body is read."""
    if not query_string:
        return None
    q = _query(query_string)
    return limits.resolve_expiration(q.get("expiration"), q.get("expiration_ttl"), now)


def _if_match(header: bytes | None) -> int | None:
    if header is None:
        return None
    text = header.decode("latin-1").strip().removeprefix("W/").strip('"')
    # No version of ours looks like anything but a 64-bit count, so the condition cannot hold.
    version = limits.plain_integer(text)
    if version is None:
        raise errors.PreconditionFailed()
    return version


def _metadata_header(header: bytes | None) -> str | None:
    """CF-KV-Metadata: a JSON document in UTF-8 (HTTP carries header bytes as latin-1)."""
    if header is None:
        return None
    try:
        text = header.decode("utf-8")
    except UnicodeError as e:
        raise MalformedRequest("The CF-KV-Metadata header is not UTF-8.") from e
    return limits.parse_metadata_json(text)


async def _small_body(receive: Receive, length: int) -> bytes:
    """A body whose Content-Length is small: read whole, as it arrives."""
    body = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise errors.BadRequest("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > length:
            raise MalformedRequest("The request body is longer than its Content-Length.")
        body.append(chunk)
        if not message.get("more_body", False):
            return b"".join(body)
