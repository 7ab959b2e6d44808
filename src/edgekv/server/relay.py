"""The relay's side of the relay protocol (stores/relay/wire.py): `edgekv serve --relay-secret`.

A relay is an edgekv node in front of the central store (or of another relay) that edges take
their data from: their misses are answered from its memory, their writes pass through it to
the central store (group-committed with every other edge's, server/writes.py), and its change
log (server/relay_log.py) is their change feed, long-polled, so the central store's feed is
read once per relay instead of once per edge.

Every route needs `Authorization: Bearer <relay secret>`. Edges need what no user token
grants: every account's namespaces, and the token records themselves, so that they check
tokens from their own memory. The secret grants what a central store's URL with its password
grants, to the same machines (the edges an operator runs); it is compared in constant time,
and without one configured the routes do not exist.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from edgekv import errors, limits
from edgekv.compact import json_bytes
from edgekv.model import FeedPage
from edgekv.server.auth import credential
from edgekv.server.envelope import AuthenticationError, ok
from edgekv.server.relay_log import RelayLog
from edgekv.server.rest.bodies import MAX_BULK_BODY, read_json
from edgekv.server.writes import Writes, entry_write
from edgekv.stores._async.protocol import AsyncStore, AsyncWholeValue
from edgekv.stores.relay import wire


class RelayAPI:
    """The relay routes over the relay's store (its edge), its writes and its change log."""

    def __init__(self, store: AsyncStore, writes: Writes, log: RelayLog, secret: str) -> None:
        self.store = store
        self.writes = writes
        self.log = log
        self._secret = secret.encode()
        self._calls: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "get_many": self._get_many,
            "put_many": self._put_many,
            "delete_many": self._delete_many,
            "incr": self._incr,
            "list_keys": self._list_keys,
            "create_namespace": self._create_namespace,
            "list_namespaces": self._list_namespaces,
            "get_namespace": self._get_namespace,
            "find_namespace": self._find_namespace,
            "rename_namespace": self._rename_namespace,
            "delete_namespace": self._delete_namespace,
            "namespace_usage": self._namespace_usage,
            "feed_position": self._feed_position,
            "purge_expired": self._purge_expired,
        }

    def routes(self) -> list[Route]:
        return [
            Route(wire.PREFIX + "/values/{namespace_id}", self.value, methods=["GET", "PUT"]),
            Route(wire.PREFIX + "/call/{method}", self.call, methods=["POST"]),
            Route(wire.PREFIX + "/changes", self.changes, methods=["GET"]),
        ]

    def _check(self, request: Request) -> None:
        presented = credential(list(request.scope["headers"]))
        if presented is None or not hmac.compare_digest(presented.encode(), self._secret):
            raise AuthenticationError()

    # values

    async def value(self, request: Request) -> Response:
        self._check(request)
        namespace_id = request.path_params["namespace_id"]
        q = request.query_params
        key = q.get("key")
        if not key:
            raise errors.BadRequest("A relay value is /relay/v1/values/{namespace}?key=KEY.")
        if request.method == "GET":
            cache_ttl = _optional_int(q.get("cache_ttl"))
            opened = await self.store.open_value(namespace_id, key, cache_ttl=cache_ttl)
            if opened is None:
                raise errors.KeyNotFound()
            entry, chunks = opened
            headers = wire.entry_headers(entry)
            if isinstance(chunks, AsyncWholeValue):
                return Response(chunks.value, headers=headers)
            return StreamingResponse(chunks, headers=headers)
        write = await entry_write(
            key,
            request.stream(),
            wire.metadata_from(request.headers),
            _optional_int(q.get("expiration")),
        )
        try:
            version = await self.writes.put(
                namespace_id,
                write,
                only_if_absent=q.get("only_if_absent") == "1",
                if_version=_optional_int(q.get("if_version")),
            )
        finally:
            self.log.acknowledged()
        return ok({"version": version})

    # every other call of the Store protocol

    async def call(self, request: Request) -> Response:
        self._check(request)
        found = self._calls.get(request.path_params["method"])
        if found is None:
            raise errors.NotFound(f"The relay has no call {request.path_params['method']!r}.")
        args = await read_json(request, MAX_BULK_BODY)
        if not isinstance(args, dict):
            raise errors.BadRequest("A relay call's body is a JSON object of its arguments.")
        try:
            return ok(await found(args))
        except errors.KVError:
            raise
        # Arguments missing, of a wrong type, or integers past what a store holds.
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise errors.BadRequest(f"Bad arguments to the relay call: {e!r}") from e
        finally:
            if request.path_params["method"] in wire.WRITE_CALLS:
                self.log.acknowledged()

    async def _get_many(self, a: dict[str, Any]) -> Any:
        found = await self.store.get_many(a["namespace_id"], a["keys"], cache_ttl=a["cache_ttl"])
        return [wire.entry_json(entry) for entry in found]

    async def _put_many(self, a: dict[str, Any]) -> Any:
        writes = [wire.write_from_json(item) for item in a["writes"]]
        return await self.store.put_many(a["namespace_id"], writes)

    async def _delete_many(self, a: dict[str, Any]) -> Any:
        await self.store.delete_many(a["namespace_id"], a["keys"])

    async def _incr(self, a: dict[str, Any]) -> Any:
        return await self.store.incr(a["namespace_id"], a["key"], a["by"], a["expiration"])

    async def _list_keys(self, a: dict[str, Any]) -> Any:
        page = await self.store.list_keys(
            a["namespace_id"], a["prefix"], a["limit"], a["start_after"], cache_ttl=a["cache_ttl"]
        )
        return wire.key_page_json(page)

    async def _create_namespace(self, a: dict[str, Any]) -> Any:
        info = await self.store.create_namespace(a["title"], a["account_id"], a["namespace_id"])
        return wire.namespace_json(info)

    async def _list_namespaces(self, a: dict[str, Any]) -> Any:
        page = await self.store.list_namespaces(
            a["account_id"],
            order=a["order"],
            direction=a["direction"],
            offset=a["offset"],
            limit=a["limit"],
        )
        return {
            "namespaces": [wire.namespace_json(info) for info in page.namespaces],
            "total": page.total_count,
        }

    async def _get_namespace(self, a: dict[str, Any]) -> Any:
        return wire.namespace_json(await self.store.get_namespace(a["namespace_id"]))

    async def _find_namespace(self, a: dict[str, Any]) -> Any:
        return wire.namespace_json(await self.store.find_namespace(a["account_id"], a["title"]))

    async def _rename_namespace(self, a: dict[str, Any]) -> Any:
        info = await self.store.rename_namespace(a["namespace_id"], a["title"])
        return wire.namespace_json(info)

    async def _delete_namespace(self, a: dict[str, Any]) -> Any:
        await self.store.delete_namespace(a["namespace_id"])

    async def _namespace_usage(self, a: dict[str, Any]) -> Any:
        usage = await self.store.namespace_usage(a["namespace_id"])
        return {"keys": usage.keys, "bytes": usage.bytes}

    async def _feed_position(self, a: dict[str, Any]) -> Any:
        await self.log.fresh()  # the end, past every write the relay answered
        return self.log.position()

    async def _purge_expired(self, a: dict[str, Any]) -> Any:
        return await self.store.purge_expired(a["limit"])

    # the change log

    async def changes(self, request: Request) -> Response:
        self._check(request)
        q = request.query_params
        position = q.get("position")
        limit = min(max(_optional_int(q.get("limit")) or wire.MAX_PAGE, 1), wire.MAX_PAGE)
        wait, stream = _seconds(q.get("wait")), _seconds(q.get("stream"))
        if stream:
            return StreamingResponse(
                self._stream(position, limit, stream), media_type="application/x-ndjson"
            )
        await self.log.fresh()
        await self.log.wait(position, wait)
        return ok(_page_json(self.log.page(position, limit)))

    async def _stream(
        self, position: str | None, limit: int, seconds: float
    ) -> AsyncIterator[bytes]:
        """Pages as the log grows, a line of JSON each (the first at once, with the position),
        for `seconds`."""
        deadline = time.monotonic() + seconds
        await self.log.fresh()
        first = True
        while True:
            await self.log.wait(position, deadline - time.monotonic())
            page = self.log.page(position, limit)
            if first or page.changes or page.behind:
                yield json_bytes(_page_json(page)) + b"\n"
                first = False
            position = page.position
            if time.monotonic() >= deadline:
                return


def _page_json(page: FeedPage) -> dict[str, Any]:
    return {
        "changes": [wire.change_json(c) for c in page.changes],
        "position": page.position,
        "behind": page.behind,
    }


def _seconds(text: str | None) -> float:
    try:
        return min(max(float(text or 0), 0.0), wire.MAX_WAIT)
    except ValueError:
        raise errors.BadRequest(f"Not a number of seconds: {text!r}.") from None


def _optional_int(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    value = limits.plain_integer(text)
    if value is None:  # the relay's integers are counts and times: 64 bits, not negative
        raise errors.BadRequest(f"Not an integer: {text[:100]!r}.")
    return value
