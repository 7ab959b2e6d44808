"""AsyncRelayStore: the Store protocol over the relay protocol (stores/relay/wire.py).

`relay://:SECRET@host:port` (`relays://` over TLS) names a relay: an edgekv node serving with
`--relay-secret SECRET` in front of the central store (or of another relay). Without a password
in the URL the secret is `EDGEKV_RELAY_SECRET`. Every account is reachable through it, as
through the central store's own URL. Options: `timeout` (seconds per call, default 5),
`connect_timeout` (2), `retries` (3), `max_connections` (20).

The change feed is the relay's change log: pushed to the edge's follower as it grows
(stream.py), long-polled by any other reader (`wait_for_changes` keeps the page it brings for
the `changes` call that follows). Requests go over keep-alive connections of the store's own
(connections.py): 429 is retried, and 5xx answers and failed connections too for calls safe
to repeat, with backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time  # noqa: F401  # the generated sync shell sleeps with time.sleep
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from edgekv import errors
from edgekv.model import (
    EntryWrite,
    FeedPage,
    KeyPage,
    NamespaceInfo,
    NamespacePage,
    NamespaceUsage,
    StoredEntry,
)
from edgekv.stores._async.protocol import Direction, NamespaceOrder
from edgekv.stores.capabilities import Capabilities
from edgekv.stores.deadlines import Deadlines
from edgekv.stores.http import wire as http_wire
from edgekv.stores.http._async.sending import body, read_all
from edgekv.stores.relay import wire
from edgekv.stores.relay.connections import (
    AsyncAnswer,
    AsyncRelayConnections,
    Body,
    RelayConnectionError,
    RelayFaults,
)
from edgekv.stores.relay.stream import ChangeStream  # unasync: remove

log = logging.getLogger("edgekv.relay")
_CHUNK = 1 << 16
_SCHEMES = {"relay": "http", "relays": "https"}

CAPABILITIES = Capabilities(
    group_commit=False,  # puts go one by one: the relay group-commits them with other edges'
    change_feed=True,
    ordered_feed=False,  # the relay's log is in the order it applied changes, not by version
    exclude_own=False,
    conditional_writes=True,
    incr=True,
    versions=True,
)


class AsyncRelayStore:
    """The Store protocol over HTTP to a relay, authenticated by the relay secret."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        max_connections: int | None = None,
    ) -> None:
        parts = urlsplit(url)
        scheme = _SCHEMES.get(parts.scheme.lower())
        if scheme is None or not parts.hostname:
            raise errors.BadRequest(f"not a relay URL: {url!r} (relay://:SECRET@host:port)")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        secret = secret or (unquote(parts.password) if parts.password else None)
        secret = secret or os.environ.get("EDGEKV_RELAY_SECRET")
        if not secret:
            raise errors.BadRequest(
                "a relay URL needs the relay's secret: relay://:SECRET@host:port, "
                "or EDGEKV_RELAY_SECRET"
            )
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        self.base_url = f"{scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        # `timeout` (5 s) bounds each call's connection wait, send and each read of its answer;
        # `connect_timeout` (2 s) each new connection.
        self.deadlines = Deadlines.of(options, timeout=timeout)
        self._timeout = self.deadlines.timeout
        self.retries = int(retries if retries is not None else options.get("retries", 3))
        self.backoff = 0.1
        connections = int(max_connections or options.get("max_connections") or 20)
        self._http = AsyncRelayConnections(
            self.base_url + wire.PREFIX,
            {"Authorization": f"Bearer {secret}", "User-Agent": "edgekv-relay"},
            self._timeout,
            connections,
            connect_timeout=self.deadlines.connect_timeout,
        )
        self._faults = RelayFaults(log)
        self._kept: tuple[str | None, FeedPage] | None = None  # the page a long poll brought
        self.feed_reads = 0  # requests for the relay's change log (docs/scaling.md)
        # The follower's feed, pushed (stream.py); and whether a write went through this store
        # since the relay last answered a look at its log (then the next look asks it).
        self._stream = ChangeStream(self._http, self._counted)  # unasync: remove
        self._wrote = False

    def _counted(self) -> None:
        self.feed_reads += 1

    async def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool = True,
        body: Body = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        within: float | None = None,
    ) -> AsyncAnswer:
        """One request, retried as the module says; a failed answer raises the KVError its
        envelope names."""
        attempt = 0
        while True:
            try:
                answer = await self._http.request(
                    method, path, params=params, headers=headers, body=body, within=within
                )
            except RelayConnectionError as e:
                if e.reason.startswith("timed out"):
                    raise  # had its deadline: a relay that did not answer would hold a retry too
                wait = http_wire.retry_wait(
                    attempt, self.retries, self.backoff, idempotent=idempotent, status=None
                )
                if wait is None:
                    raise  # StoreUnavailable, by the calling method's faults
            else:
                if answer.status < 400:
                    return answer
                text = await answer.read()
                if http_wire.upstream_timed_out(answer.status, text):
                    raise http_wire.error_from(answer.status, text)
                wait = http_wire.retry_wait(
                    attempt,
                    self.retries,
                    self.backoff,
                    idempotent=idempotent,
                    status=answer.status,
                    retry_after=answer.headers.get("retry-after"),
                )
                if wait is None:
                    raise http_wire.error_from(answer.status, text)
            await asyncio.sleep(wait)
            attempt += 1

    async def _result(self, answer: AsyncAnswer) -> Any:
        return json.loads(await answer.read())["result"]

    async def _call(self, method: str, idempotent: bool = True, **args: Any) -> Any:
        self._wrote = self._wrote or method in wire.WRITE_CALLS
        data = json.dumps(args).encode()
        headers = {"Content-Type": "application/json"}
        answer = await self._send(
            "POST", f"/call/{method}", idempotent=idempotent, body=data, headers=headers
        )
        return await self._result(answer)

    # reads

    async def _open(
        self, namespace_id: str, key: str, cache_ttl: int | None
    ) -> tuple[StoredEntry, AsyncAnswer] | None:
        path = f"/values/{http_wire.segment(namespace_id)}"
        params: dict[str, Any] = {"key": key}
        if cache_ttl is not None:
            params["cache_ttl"] = cache_ttl
        try:
            answer = await self._send("GET", path, params=params)
        except errors.KeyNotFound:
            return None
        return wire.entry_from_headers(answer.headers), answer

    async def get(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> StoredEntry | None:
        with self._faults:
            opened = await self._open(namespace_id, key, cache_ttl)
            if opened is None:
                return None
            entry, answer = opened
            entry.value = await answer.read()
            return entry

    async def get_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None
    ) -> bytes | None:
        entry = await self.get(namespace_id, key, cache_ttl=cache_ttl)
        return None if entry is None else entry.value

    async def get_many(
        self, namespace_id: str, keys: Sequence[str], *, cache_ttl: int | None = None
    ) -> list[StoredEntry | None]:
        with self._faults:
            found = await self._call(
                "get_many", namespace_id=namespace_id, keys=list(keys), cache_ttl=cache_ttl
            )
            return [wire.entry_from_json(item) for item in found]

    async def open_value(
        self, namespace_id: str, key: str, *, cache_ttl: int | None = None, chunk_size: int = _CHUNK
    ) -> tuple[StoredEntry, AsyncIterator[bytes]] | None:
        with self._faults:
            opened = await self._open(namespace_id, key, cache_ttl)
            if opened is None:
                return None
            entry, answer = opened
            return entry, self._chunks(answer, chunk_size)

    async def _chunks(self, answer: AsyncAnswer, chunk_size: int) -> AsyncIterator[bytes]:
        with self._faults:
            async for chunk in answer.chunks(chunk_size):
                yield chunk

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
            page = await self._call(
                "list_keys",
                namespace_id=namespace_id,
                prefix=prefix,
                limit=limit,
                start_after=start_after,
                cache_ttl=cache_ttl,
            )
            return wire.key_page_from_json(page)

    # writes

    async def put(
        self,
        namespace_id: str,
        write: EntryWrite,
        *,
        only_if_absent: bool = False,
        if_version: int | None = None,
    ) -> int:
        with self._faults:
            params: dict[str, Any] = {"key": write.key}
            if write.expiration is not None:
                params["expiration"] = write.expiration
            if only_if_absent:
                params["only_if_absent"] = "1"
            if if_version is not None:
                params["if_version"] = if_version
            value = write.value
            start = 0 if isinstance(value, bytes) else value.tell()
            size = len(value) if isinstance(value, bytes) else write.size
            headers = {
                **wire.metadata_header(write.metadata_json),
                "Content-Length": str(size),
                "Content-Type": "application/octet-stream",
            }
            path = f"/values/{http_wire.segment(namespace_id)}"
            self._wrote = True
            answer = await self._send(
                "PUT",
                path,
                # A repeated conditional write could fail on its own first attempt's success.
                idempotent=not (only_if_absent or if_version is not None),
                body=value if isinstance(value, bytes) else lambda: body(b"", value, start, b""),
                params=params,
                headers=headers,
            )
            return int((await self._result(answer))["version"])

    async def put_many(self, namespace_id: str, writes: Sequence[EntryWrite]) -> list[int]:
        with self._faults:
            items = [wire.write_json(w, read_all(w.value)) for w in writes]
            versions = await self._call("put_many", namespace_id=namespace_id, writes=items)
            return [int(v) for v in versions]

    async def delete_many(self, namespace_id: str, keys: Sequence[str]) -> None:
        with self._faults:
            await self._call("delete_many", namespace_id=namespace_id, keys=list(keys))

    async def incr(self, namespace_id: str, key: str, by: int, expiration: int | None) -> int:
        with self._faults:
            return int(
                await self._call(
                    "incr",
                    idempotent=False,
                    namespace_id=namespace_id,
                    key=key,
                    by=by,
                    expiration=expiration,
                )
            )

    # namespaces

    async def create_namespace(
        self, title: str, account_id: str, namespace_id: str | None = None
    ) -> NamespaceInfo:
        with self._faults:
            created = await self._call(
                "create_namespace",
                idempotent=False,
                title=title,
                account_id=account_id,
                namespace_id=namespace_id,
            )
            return wire.namespace_from_json(created)

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
            page = await self._call(
                "list_namespaces",
                account_id=account_id,
                order=order,
                direction=direction,
                offset=offset,
                limit=limit,
            )
            return NamespacePage(
                [wire.namespace_from_json(item) for item in page["namespaces"]],
                int(page["total"]),
            )

    async def get_namespace(self, namespace_id: str) -> NamespaceInfo:
        with self._faults:
            found = await self._call("get_namespace", namespace_id=namespace_id)
            return wire.namespace_from_json(found)

    async def find_namespace(self, account_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            found = await self._call("find_namespace", account_id=account_id, title=title)
            return wire.namespace_from_json(found)

    async def rename_namespace(self, namespace_id: str, title: str) -> NamespaceInfo:
        with self._faults:
            renamed = await self._call("rename_namespace", namespace_id=namespace_id, title=title)
            return wire.namespace_from_json(renamed)

    async def delete_namespace(self, namespace_id: str) -> None:
        with self._faults:
            await self._call("delete_namespace", namespace_id=namespace_id)

    async def namespace_usage(self, namespace_id: str) -> NamespaceUsage:
        with self._faults:
            usage = await self._call("namespace_usage", namespace_id=namespace_id)
            return NamespaceUsage(int(usage["keys"]), int(usage["bytes"]))

    # the change feed: the relay's change log

    async def feed_position(self) -> str:
        with self._faults:
            return str(await self._call("feed_position"))

    async def _page(self, position: str | None, limit: int, wait: float) -> FeedPage:
        params: dict[str, Any] = {"limit": max(1, min(limit, wire.MAX_PAGE))}
        if position is not None:
            params["position"] = position
        if wait > 0:
            params["wait"] = wait
        self.feed_reads += 1
        answer = await self._send("GET", "/changes", params=params, within=self._timeout + wait)
        result = await self._result(answer)
        return FeedPage(
            [wire.change_from_json(c) for c in result["changes"]],
            str(result["position"]),
            bool(result["behind"]),
        )

    async def changes(
        self, position: str | None, limit: int = 1000, *, exclude_own: bool = False
    ) -> FeedPage:
        """The page a long poll or the stream brought; else, where the stream is at `position`
        with nothing pushed since (and nothing written through this store meanwhile), an
        empty page without asking; else the relay's answer."""
        with self._faults:
            kept, self._kept = self._kept, None
            if kept is not None and kept[0] == position and len(kept[1].changes) <= limit:
                return kept[1]
            pushed = self._stream.take(position)  # unasync: remove
            if pushed is not None and len(pushed.changes) <= limit:  # unasync: remove
                return pushed  # unasync: remove
            quiet = position is not None and self._stream.idle_at(position)  # unasync: remove
            if quiet and not self._wrote:  # unasync: remove
                return FeedPage([], position)  # type: ignore[arg-type]  # unasync: remove
            self._wrote = False
            return await self._page(position, limit, 0.0)

    async def wait_for_changes(self, position: str | None, seconds: float) -> bool:
        """The stream's next page for the follower; a long poll of the relay's log for any
        other reader (the page it brings is kept for `changes`)."""
        seconds = min(max(seconds, 0.0), wire.MAX_WAIT)
        with self._faults:
            if self._stream.follows(position):  # unasync: remove
                return await self._stream.wait(position, seconds)  # unasync: remove
            page = await self._page(position, wire.MAX_PAGE, seconds)
            if page.changes or page.behind:
                self._kept = (position, page)
                return True
            return False

    async def purge_expired(self, limit: int = 1000) -> int:
        with self._faults:
            return int(await self._call("purge_expired", limit=limit))

    async def aclose(self) -> None:
        with self._faults:
            await self._stream.aclose()  # unasync: remove
            await self._http.aclose()

    async def __aenter__(self) -> AsyncRelayStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
