"""The hot path in raw ASGI: reading a value, and writing a raw value, without the router.

`GET` and `PUT .../accounts/{a}/storage/kv/namespaces/{ns}/values/{key}` are most of a KV
server's traffic, and the Starlette stack (middleware, router, Request, Response) costs more
than the work itself. `FastPath` answers the plain forms of these two requests itself, with
the same pieces the routes use (the Authenticator, the namespace lookup, the namespace handle,
`send_value`), and hands everything else to the full app, untouched: query strings, workerd's
headers, Cache-Control, conditional or multipart writes, metadata headers, bodies over 1 MiB or
of unknown length, and any request that would fail before its value is read or written. So
behaviour, errors included, is defined once, by the routes; tests/server/test_fastpath.py
compares the answers of both paths byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

from edgekv import errors, limits
from edgekv.api._async.kv import AsyncNamespace
from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.model import EntryWrite, NamespaceInfo, StoredEntry
from edgekv.server.auth import Authenticator
from edgekv.server.batching import WriteBatcher
from edgekv.server.envelope import failure, ok
from edgekv.server.records import FeedEdge
from edgekv.server.rest.bodies import IN_MEMORY, percent_decode
from edgekv.server.rest.routes import RestAPI, _header_json
from edgekv.server.rest.streaming import BUFFER as _BUFFER
from edgekv.server.rest.streaming import send_value
from edgekv.server.workerd.protocol import ASGIApp, Message, Receive, Scope, Send
from edgekv.stores._async.protocol import AsyncStore, chunks_of

log = logging.getLogger("edgekv.server")

Target = tuple[NamespaceInfo, str]
Headers = list[tuple[bytes, bytes]]

_PREFIX = b"/client/v4/accounts/"
_NAMESPACES = [b"storage", b"kv", b"namespaces"]
# Request headers that change what these requests mean: the full app handles them.
_GET_ASIDE = frozenset({b"cf-kv-flprod-405", b"x-edgekv-namespace", b"cache-control"})
_PUT_ASIDE = _GET_ASIDE | {
    b"if-match",
    b"if-none-match",
    b"cf-kv-metadata",
    b"transfer-encoding",
}
_CREDENTIALS = frozenset({b"authorization", b"x-auth-key", b"x-auth-email"})
_ALLOWED_KEPT = 10_000
_OCTET_STREAM = (b"content-type", b"application/octet-stream")
_WRITTEN = ok({})  # what a value write answers, besides its ETag
_WRITTEN_TAIL = list(_WRITTEN.raw_headers)
_NOT_FOUND = failure(errors.KeyNotFound())


class FastPath:
    """Serves plain value reads and raw value writes; sends every other request to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        store: AsyncStore,
        authenticator: Authenticator,
        rest: RestAPI,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self.store = store
        self.authenticator = authenticator
        self.rest = rest
        self.clock = clock
        self.edge = store if isinstance(store, FeedEdge) else None
        self.local = None if self.edge is None else self.edge.local
        # Requests found allowed, by the SHA-256 of (method, account, namespace, credential
        # headers): valid while nothing they depend on changed (see `_allowed_before`).
        self._allowed: dict[bytes, tuple[int, float, NamespaceInfo]] = {}
        # Group commit pays where a commit, not the write, sets the pace: stores whose put_many
        # is one transaction answering each write's own version (SQLite, PostgreSQL). Redis
        # batches concurrent puts itself, per master (AsyncRedisStore.put); RestStore's bulk
        # write learns no versions.
        central = store.central if isinstance(store, AsyncEdgeStore) else store
        batching = central.capabilities.group_commit
        self.batcher = WriteBatcher(store) if batching else None
        # Answer headers of values read from memory, by (namespace, key), with what they are
        # made of (version, expiration, metadata, length): reused while those are the same.
        self._hits: dict[tuple[str, str], tuple[tuple[object, ...], Headers]] = {}
        self.served = 0  # requests answered here (tests check the fast path was taken)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET":
                if await self._get(scope, receive, send):
                    self.served += 1
                    return
            elif method == "PUT":
                unread = await self._put(scope, receive, send)
                if unread is None:
                    self.served += 1
                    return
                receive = unread
        await self.app(scope, receive, send)

    async def _target(self, scope: Scope, credentials: list[bytes]) -> Target | None:
        """(namespace, key) of a plain value path the caller may use; None: not ours."""
        path = _value_path(scope)
        if path is None:
            return None
        account, namespace, key = path
        local = self.local
        if local is None:
            info = await self._allow(scope, account, namespace)
            return None if info is None else (info, key)
        # The account and namespace segments hold no %, so the decoded path, which the
        # Authenticator reads, has them as they are here.
        material = [scope["method"].encode(), account, namespace, *credentials]
        digest = hashlib.sha256(b"\n".join(material)).digest()
        found = self._allowed.get(digest)
        generation = local.generation
        if found is not None and found[0] == generation and local.clock() - found[1] < local.ttl:
            return found[2], key
        info = await self._allow(scope, account, namespace)
        if info is None:
            return None
        if generation == local.generation:  # nothing changed while we looked
            if len(self._allowed) >= _ALLOWED_KEPT:
                self._allowed.clear()
            self._allowed[digest] = (generation, local.clock(), info)
        return info, key

    async def _allow(self, scope: Scope, account: bytes, namespace: bytes) -> NamespaceInfo | None:
        """The namespace, if the request's credentials may use it; None: the app answers."""
        try:
            await self.authenticator.authorize(scope)
            return await self.rest.namespace_info(account.decode("ascii"), namespace.decode())
        except (errors.KVError, UnicodeError):
            return None

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> bool:
        credentials = []
        for name, value in scope["headers"]:
            if name in _GET_ASIDE:
                return False
            if name in _CREDENTIALS:
                credentials.append(name + b":" + value)
        target = await self._target(scope, credentials)
        if target is None:
            return False
        info, key = target
        if self.edge is not None:
            item = self.edge.cached(info.id, key)
            if item is not None:
                if item.entry is None:
                    await _NOT_FOUND(scope, receive, send)
                elif len(item.entry.value) <= _BUFFER:
                    headers = self._hit_headers(info.id, key, item.entry)
                    await send({"type": "http.response.start", "status": 200, "headers": headers})
                    await send({"type": "http.response.body", "body": item.entry.value})
                else:
                    chunks = chunks_of(item.entry.value, _BUFFER)
                    await send_value(send, chunks, _value_headers(item.entry, "HIT"))
                return True
        try:
            opened = await self.store.open_value(info.id, key, cache_ttl=None)
        except Exception:
            return False  # nothing sent yet: the full app tries again and answers the error
        if opened is None:
            await _NOT_FOUND(scope, receive, send)
            return True
        entry, chunks = opened
        await send_value(send, chunks, _value_headers(entry, entry.cache_status))
        return True

    def _hit_headers(self, namespace_id: str, key: str, entry: StoredEntry) -> Headers:
        """The headers of a small value answered from memory, built once per cached entry."""
        made_of = (entry.version, entry.expiration, entry.metadata_json, len(entry.value))
        found = self._hits.get((namespace_id, key))
        if found is not None and found[0] == made_of:
            return found[1]
        headers = _value_headers(entry, "HIT")
        headers.append((b"content-length", b"%d" % len(entry.value)))
        if len(self._hits) >= _ALLOWED_KEPT:
            self._hits.clear()
        self._hits[(namespace_id, key)] = (made_of, headers)
        return headers

    async def _put(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None once answered; else the `receive` the full app must read the request from."""
        length = None
        credentials = []
        for name, value in scope["headers"]:
            if name in _PUT_ASIDE:
                return receive
            if name in _CREDENTIALS:
                credentials.append(name + b":" + value)
            elif name == b"content-length":
                length = value
            elif name == b"content-type" and b"multipart" in value.lower():
                return receive
        if length is None or not length.isdigit() or int(length) > IN_MEMORY:
            return receive
        target = await self._target(scope, credentials)
        if target is None:
            return receive
        received: list[Message] = []
        body: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                return _replay(received, receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > IN_MEMORY:
                return _replay(received, receive)
            body.append(chunk)
            if not message.get("more_body", False):
                break
        info, key = target
        value = b"".join(body)
        try:
            if len(value) > _BUFFER:
                version = await AsyncNamespace(self.store, info, self.clock).put(key, value)
            else:
                # What AsyncNamespace.put writes for a plain value; where the store gains from
                # it, committed with the writes that arrive with it (batching.py).
                write = EntryWrite(
                    limits.validate_key(key),
                    limits.value_bytes(value),
                    limits.metadata_json(None),
                    limits.resolve_expiration(None, None, self.clock()),
                    len(value),
                )
                if self.batcher is None:
                    version = await self.store.put(info.id, write)
                else:
                    version = await self.batcher.put(info.id, write)
        except errors.KVError as e:
            await failure(e)(scope, receive, send)
            return None
        except Exception as e:
            # As the app's handler for unexpected errors: logged, a 500 envelope, re-raised.
            log.error("%s %s failed", scope["method"], scope["path"], exc_info=e)
            await failure(errors.KVError())(scope, receive, send)
            raise
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"etag", b'"%d"' % version), *_WRITTEN_TAIL],
            }
        )
        await send({"type": "http.response.body", "body": _WRITTEN.body})
        return None


def _value_path(scope: Scope) -> tuple[bytes, bytes, str] | None:
    """(account, namespace, key) of a plain `.../values/{key}` path; None for anything else."""
    raw = scope.get("raw_path")
    if (
        raw is None
        or scope["query_string"]
        or scope.get("root_path")
        or not raw.startswith(_PREFIX)
        or b"?" in raw
    ):
        return None
    parts = raw.split(b"/", 10)
    if len(parts) != 11 or parts[9] != b"values" or parts[5:8] != _NAMESPACES:
        return None
    account, namespace, raw_key = parts[4], parts[8], parts[10]
    if not (account and namespace and raw_key) or b"%" in account or b"%" in namespace:
        return None
    try:
        key = limits.validate_key(
            percent_decode(raw_key) if b"%" in raw_key else raw_key.decode("utf-8")
        )
    except (errors.KVError, UnicodeError):
        return None  # the full app answers the error
    return account, namespace, key


def _value_headers(entry: StoredEntry, cache_status: str | None) -> Headers:
    """A value's headers as RestAPI.get_value and ValueResponse send them, in their order."""
    headers = [(b"etag", b'"%d"' % entry.version)]
    if entry.expiration is not None:
        headers.append((b"expiration", str(entry.expiration).encode()))
    if entry.metadata_json is not None:
        metadata = json.loads(entry.metadata_json)
        if metadata is not None:
            headers.append((b"cf-kv-metadata", _header_json(metadata).encode("latin-1")))
    if cache_status is not None:
        headers.append((b"cf-cache-status", cache_status.encode("latin-1")))
    headers.append(_OCTET_STREAM)
    return headers


def _replay(received: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives the messages already read again, then reads on."""
    pending = list(received)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again
