"""AsyncRestStore: a Store over the REST API v4, of an edgekv server or of Cloudflare itself.

`AsyncKV("http://127.0.0.1:8787", token=...)` talks to an edgekv server;
`AsyncKV("https://api.cloudflare.com/client/v4", token=..., account_id=...)` to Cloudflare.
One store is one account (the one given, else the first `GET /accounts` lists); the account_id
that the Store protocol passes is ignored. Connections are pooled (HTTP/1.1 keep-alive), every
call has a timeout, and 429 and 5xx answers are retried with exponential backoff (5xx and
connection failures only for calls that are safe to repeat).

What only an edgekv server offers (its extensions): versions (ETag) and metadata in the headers
of a value read, conditional writes, bulk reads of bytes, `incr`. The store declares which it
has (`capabilities`: `wire.EDGEKV_SERVER`, or `wire.CLOUDFLARE` for Cloudflare's API). Against
Cloudflare a read costs a second request for the metadata, versions are 0, and a conditional
write or `incr` is refused (BadRequest) rather than sent: Cloudflare would write
unconditionally. The change feed is edgekv's `/storage/kv/changes` (the account's changes only,
see docs/server.md); against a server without it (Cloudflare, or one that answers its path
404 as Cloudflare does) `changes` is empty and `feed_position` "0". `purge_expired` does
nothing (the server purges).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time  # noqa: F401  # the generated sync shell sleeps with time.sleep
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx

from edgekv import errors, limits
from edgekv.model import (
    DEFAULT_ACCOUNT,
    Change,
    EntryWrite,
    FeedPage,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores._async.protocol import Direction, NamespaceOrder
from edgekv.stores.deadlines import TIMEOUT, Deadlines
from edgekv.stores.http import wire
from edgekv.stores.http._async.sending import body, chunks, read_all, read_whole, send
from edgekv.stores.http.faults import RestFaults

_CHUNK = 1 << 16
_BULK_GET = 100
_BULK_WRITE = 10_000
_NAMESPACE_PAGE = 100  # Cloudflare's maximum per_page
_CURSORS_KEPT = 1024
_FEED_PAGE = 1000  # the server's maximum limit
_FEED_WAIT = 30.0  # the server's longest long poll
_NO_ROUTE = frozenset({7000, 7003})  # what a server without the feed answers for its paths
log = logging.getLogger("edgekv.http")
CLOUDFLARE_TIMEOUT = 30.0  # seconds: Cloudflare's API's default deadline (bulk writes)


class AsyncRestStore:
    """The Store protocol over HTTP, for one account."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        account_id: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        retries: int = 3,
        backoff: float = 0.2,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        cloudflare: bool | None = None,
    ) -> None:
        """`cloudflare` says the URL is Cloudflare's API (or a server that answers as it does),
        which declares fewer capabilities (`wire.CLOUDFLARE`); by default, whether the URL's
        host is api.cloudflare.com."""
        self._faults = RestFaults(log)
        url, options = wire.deadline_options(url)
        if cloudflare is None:
            cloudflare = wire.is_cloudflare(url)
        # `timeout` (the URL's, else 5 s) bounds each request: connecting (`connect_timeout`,
        # 2 s), sending, and each read of the answer; a request that timed out is not retried.
        # Cloudflare's API, across the internet, may take longer to answer a bulk write of
        # 10,000 keys: 30 s there, unless the URL says otherwise.
        self.deadlines = Deadlines.of(
            options,
            timeout=timeout,
            connect_timeout=connect_timeout,
            default_timeout=CLOUDFLARE_TIMEOUT if cloudflare else TIMEOUT,
        )
        timeout = self.deadlines.timeout
        self.base_url = wire.api_base(url)
        token = token if token is not None else os.environ.get("EDGEKV_TOKEN")
        headers = {"User-Agent": "edgekv-python"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=self.deadlines.connect_timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )
        self.account_id = account_id if account_id != DEFAULT_ACCOUNT else None
        self.retries = retries
        self.backoff = backoff
        # Cloudflare's cursors are opaque: the one that follows a page is kept by its last key.
        self._cursors: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self.capabilities = wire.CLOUDFLARE if cloudflare else wire.EDGEKV_SERVER
        # Does the server speak edgekv's extensions (a bulk read of bytes)? Asked once.
        self._edgekv: bool | None = False if cloudflare else None
        self._timeout = timeout
        self.feed_reads = 0  # feed requests made (docs/scaling.md)

    # HTTP

    async def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        stream: bool = False,
        content: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Sends with retries; a failed answer raises the edgekv error its envelope names."""
        return await send(
            self._client,
            method,
            path,
            retries=self.retries,
            backoff=self.backoff,
            idempotent=idempotent,
            stream=stream,
            content=content,
            **kwargs,
        )

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        return response.json()

    async def _account(self) -> str:
        if self.account_id is None:
            accounts = (await self._json("GET", "/accounts"))["result"]
            if not accounts:
                raise errors.BadRequest("the token sees no account: pass account_id=")
            self.account_id = str(accounts[0]["id"])
        return self.account_id

    async def _ns_path(self, namespace_id: str = "") -> str:
        path = f"/accounts/{await self._account()}/storage/kv/namespaces"
        return f"{path}/{wire.segment(namespace_id)}" if namespace_id else path

    def _info(self, item: dict[str, Any]) -> NamespaceInfo:
        assert self.account_id is not None
        return NamespaceInfo(str(item["id"]), str(item["title"]), self.account_id)

    # namespaces

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        with self._faults:
            # `id` is edgekv's extension; Cloudflare's API has no such field and ignores it.
            request = (
                {"title": title} if namespace_id is None else {"title": title, "id": namespace_id}
            )
            body = await self._json("POST", await self._ns_path(), json=request, idempotent=False)
            created = self._info(body["result"])
            if namespace_id is not None and created.id != namespace_id:
                await self.delete_namespace(created.id)
                raise errors.BadRequest(
                    f"{self.base_url} cannot create a namespace with a chosen id (it made "
                    f"{created.id}, now deleted again): only an edgekv server honours `id`."
                )
            return created

    async def list_namespaces(
        self,
        account_id: str | None,
        *,
        order: NamespaceOrder = "id",
        direction: Direction = "asc",
        offset: int = 0,
        limit: int = 20,
    ) -> NamespacePage:
        with self._faults:
            per_page = max(1, min(limit, _NAMESPACE_PAGE))
            page = offset // per_page + 1
            skip = offset % per_page
            found: list[NamespaceInfo] = []
            total = 0
            while len(found) < limit + skip:
                body = await self._json(
                    "GET",
                    await self._ns_path(),
                    params={
                        "page": page,
                        "per_page": per_page,
                        "order": order,
                        "direction": direction,
                    },
                )
                total = int(body.get("result_info", {}).get("total_count", 0))
                found += [self._info(item) for item in body["result"]]
                if len(body["result"]) < per_page:
                    break
                page += 1
            return NamespacePage(found[skip : skip + limit], total)

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        with self._faults:
            if not namespace_id:
                raise errors.NamespaceNotFound()
            return self._info(
                (await self._json("GET", await self._ns_path(namespace_id)))["result"]
            )

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            page = 1
            while True:
                body = await self._json(
                    "GET", await self._ns_path(), params={"page": page, "per_page": _NAMESPACE_PAGE}
                )
                for item in body["result"]:
                    if item["title"] == title:
                        return self._info(item)
                if len(body["result"]) < _NAMESPACE_PAGE:
                    raise errors.NamespaceNotFound()
                page += 1

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            path = await self._ns_path(namespace_id)
            return self._info((await self._json("PUT", path, json={"title": title}))["result"])

    async def delete_namespace(self, namespace_id: str) -> None:
        with self._faults:
            await self._send("DELETE", await self._ns_path(namespace_id))

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        if self._edgekv is False:
            raise errors.BadRequest(
                f"{self.base_url} does not report a namespace's keys and bytes (edgekv's "
                "extension): Cloudflare's are in its GraphQL Analytics API (kvStorageAdaptiveGroups)"
            )
        with self._faults:
            path = f"{await self._ns_path(namespace_id)}/usage"
            result = (await self._json("GET", path))["result"]
            return NamespaceUsage(int(result["keys"]), int(result["bytes"]))

    # reads

    def _read_options(self, cache_ttl: int | None) -> dict[str, Any]:
        if cache_ttl == 0:
            return {"headers": {"Cache-Control": "no-cache"}}
        return {"params": {"cache_ttl": cache_ttl}} if cache_ttl else {}

    async def _open(
        self, namespace_id: str, key: str, cache_ttl: int | None
    ) -> tuple[StoredEntry, httpx.Response] | None:
        path = f"{await self._ns_path(namespace_id)}/values/{wire.segment(key)}"
        try:
            response = await self._send("GET", path, stream=True, **self._read_options(cache_ttl))
        except errors.KeyNotFound:
            return None
        entry, extended = wire.entry_from_headers(response.headers)
        if not extended:
            meta_path = f"{await self._ns_path(namespace_id)}/metadata/{wire.segment(key)}"
            try:
                metadata = (await self._json("GET", meta_path))["result"]
            except errors.KeyNotFound:
                metadata = None
            entry.metadata_json = None if metadata is None else json.dumps(metadata)
        return entry, response

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        with self._faults:
            return await read_whole(await self._open(namespace_id, key, cache_ttl))

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        entry = await self.get(namespace_id, key, cache_ttl=cache_ttl)
        return None if entry is None else entry.value

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        with self._faults:
            out: list[StoredEntry | None] = []
            for start in range(0, len(keys), _BULK_GET):
                out += await self._get_bulk(
                    namespace_id, keys[start : start + _BULK_GET], cache_ttl
                )
            return out

    async def _get_bulk(
        self, namespace_id: str, keys: Sequence[str], cache_ttl: int | None
    ) -> list[StoredEntry | None]:
        if self._edgekv is not False:
            body: dict[str, Any] = {"keys": list(keys), "type": "arrayBuffer", "withMetadata": True}
            if cache_ttl:
                body["cacheTtl"] = cache_ttl
            try:
                answer = await self._json(
                    "POST", f"{await self._ns_path(namespace_id)}/bulk/get", json=body
                )
            except errors.InvalidType:
                self._edgekv = False  # Cloudflare reads text or json only: one by one
            else:
                values = answer["result"]["values"]
                return [wire.entry_from_bulk(values.get(k)) for k in keys]
        return [await self.get(namespace_id, k, cache_ttl=cache_ttl) for k in keys]

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = _CHUNK
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        with self._faults:
            opened = await self._open(namespace_id, key, cache_ttl)
            if opened is None:
                return None
            entry, response = opened
            return entry, chunks(response, chunk_size, self._faults)

    # writes

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        if (only_if_absent or if_version is not None) and not self.capabilities.conditional_writes:
            raise errors.BadRequest(
                f"{self.base_url} has no conditional writes (only_if_absent, if_version)"
            )
        with self._faults:
            headers: dict[str, str] = {}
            if only_if_absent:
                headers["If-None-Match"] = "*"
            if if_version is not None:
                headers["If-Match"] = f'"{if_version}"'
            size = write.size if not isinstance(write.value, bytes) else len(write.value)
            head, tail = b"", b""
            if write.metadata_json is not None:
                headers["Content-Type"], head, tail = wire.multipart(write.metadata_json)
            else:
                headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(len(head) + size + len(tail))
            value = write.value
            start = 0 if isinstance(value, bytes) else value.tell()
            path = f"{await self._ns_path(namespace_id)}/values/{wire.segment(write.key)}"
            response = await self._send(
                "PUT",
                path,
                params={} if write.expiration is None else {"expiration": write.expiration},
                headers=headers,
                content=lambda: body(head, value, start, tail),
                # A repeated conditional write could fail on its own first attempt's success.
                idempotent=not (only_if_absent or if_version is not None),
            )
            entry, _ = wire.entry_from_headers(response.headers)
            return entry.version

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        with self._faults:
            path = f"{await self._ns_path(namespace_id)}/bulk"
            for start in range(0, len(writes), _BULK_WRITE):
                items = [
                    wire.bulk_item(w, read_all(w.value))
                    for w in writes[start : start + _BULK_WRITE]
                ]
                await self._send("PUT", path, json=items)
            # The bulk answer carries no versions; read the entry to learn one.
            return [0] * len(writes)

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        with self._faults:
            if len(keys) == 1:
                path = f"{await self._ns_path(namespace_id)}/values/{wire.segment(keys[0])}"
                await self._send("DELETE", path)
                return
            path = f"{await self._ns_path(namespace_id)}/bulk/delete"
            for start in range(0, len(keys), _BULK_WRITE):
                await self._send("POST", path, json=list(keys[start : start + _BULK_WRITE]))

    async def list_keys(
        self,
        namespace_id: str,
        prefix: str,
        limit: int,
        start_after: str | None,
        *,
        cache_ttl: int | None = None,
    ) -> KeyPage:
        with self._faults:
            # `extensions`: an edgekv server adds each key's size and last write (Cloudflare's
            # API ignores what it does not know).
            params: dict[str, Any] = {"limit": limit, "extensions": "true"}
            if prefix:
                params["prefix"] = prefix
            if start_after is not None:
                known = self._cursors.get((namespace_id, prefix, start_after))
                # An edgekv server's cursor is the last key, base64url-encoded.
                params["cursor"] = known or limits.encode_cursor(start_after)
            options = self._read_options(cache_ttl)
            options.pop("params", None)
            body = await self._json(
                "GET", f"{await self._ns_path(namespace_id)}/keys", params=params, **options
            )
            keys = [wire.key_info(item) for item in body["result"]]
            cursor = (body.get("result_info") or {}).get("cursor") or ""
            if cursor and keys:
                self._cursors[(namespace_id, prefix, keys[-1].name)] = cursor
                while len(self._cursors) > _CURSORS_KEPT:
                    self._cursors.popitem(last=False)
            return KeyPage(keys, not cursor)

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        if not self.capabilities.incr:
            raise errors.BadRequest(f"{self.base_url} has no atomic counters (incr)")
        with self._faults:
            body: dict[str, Any] = {"by": by}
            if expiration is not None:
                body["expiration"] = expiration
            path = f"{await self._ns_path(namespace_id)}/incr/{wire.segment(key)}"
            answer = await self._json("POST", path, json=body, idempotent=False)
            return int(answer["result"]["value"])

    # the change feed (edgekv's extension)

    async def _feed_json(self, path: str, **kwargs: Any) -> Any:
        """The result of a feed call, or None when the server serves no feed."""
        if not self.capabilities.change_feed:
            return None
        url = f"/accounts/{await self._account()}/storage/kv/changes{path}"
        self.feed_reads += 1
        try:
            return (await self._json("GET", url, **kwargs))["result"]
        except errors.NotFound as e:
            if e.code not in _NO_ROUTE:
                raise
            # A server that answers as Cloudflare's API does, at another URL (a proxy).
            self.capabilities = dataclasses.replace(self.capabilities, change_feed=False)
            return None

    async def feed_position(self) -> str:
        with self._faults:
            result = await self._feed_json("/position")
            return "0" if result is None else str(result["position"])

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        with self._faults:
            params: dict[str, Any] = {"limit": max(1, min(limit, _FEED_PAGE))}
            while True:
                if position is not None:
                    params["position"] = position
                result = await self._feed_json("", params=params)
                if result is None:
                    return FeedPage([], position or "0")
                page = FeedPage(
                    [
                        Change(int(c["seq"]), str(c["namespace_id"]), c["key"], float(c["at"]))
                        for c in result["changes"]
                    ],
                    str(result["position"]),
                    bool(result["behind"]),
                )
                # An empty page means "nothing more", unless the server stopped looking early.
                if page.changes or page.behind or not result.get("more"):
                    return page
                position = page.position

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        with self._faults:
            remaining = seconds
            while True:
                step = min(max(remaining, 0.0), _FEED_WAIT)
                params: dict[str, Any] = {"seconds": step}
                if position is not None:
                    params["position"] = position
                result = await self._feed_json(
                    "/wait", params=params, timeout=httpx.Timeout(self._timeout + step)
                )
                if result is None:
                    await asyncio.sleep(remaining)
                    return False
                if result["changed"]:
                    return True
                remaining -= step
                if remaining <= 0:
                    return False

    async def purge_expired(self, limit: int = 1000) -> int:
        return 0

    async def aclose(self) -> None:
        with self._faults:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncRestStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
