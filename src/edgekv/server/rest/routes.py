"""The Cloudflare KV REST API v4 (docs/contract.md, section 3) and edgekv's additions over it.

Each route turns a request into Namespace calls and their answer into an envelope; errors are
raised as `edgekv.errors` and turned into envelopes by the app. Keys come from the raw path,
percent-decoded exactly once, so `a%2Fb` is the key `a/b` and `+` stays a plus.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edgekv import errors, limits
from edgekv.analytics.counting import Usage, value_size
from edgekv.api._async.kv import AsyncKV, AsyncNamespace
from edgekv.model import NamespaceInfo, NamespacePage, StoredEntry
from edgekv.server.auth import Authenticator, Principal, principal_of
from edgekv.server.envelope import MalformedRequest, ok
from edgekv.server.paths import NAMESPACES, percent_decode, raw_path, v4_path
from edgekv.server.rest import bodies
from edgekv.stores._async.protocol import AsyncStore, Direction, NamespaceOrder


class _KeyConvertor(Convertor[str]):
    """Like `path`, but also across newlines: a key may hold any character."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("key", _KeyConvertor())

BASE = NAMESPACES


class RestAPI:
    """The REST routes over one store."""

    def __init__(
        self,
        store: AsyncStore,
        authenticator: Authenticator,
        clock: Callable[[], float] = time.time,
        usage: Usage | None = None,
    ) -> None:
        self.store = store
        self.authenticator = authenticator
        self.clock = clock
        self.usage = usage  # counts each operation where it is answered (None: off)

    def _count(self, ns: AsyncNamespace, action: str, requests: int = 1, size: int = 0) -> None:
        if self.usage is not None:
            self.usage.add(ns.info, action, requests, size)

    def routes(self) -> list[Route]:
        ns = BASE + "/{namespace_id}"
        return [
            Route(BASE, self.list_namespaces, methods=["GET"]),
            Route(BASE, self.create_namespace, methods=["POST"]),
            Route(ns, self.get_namespace, methods=["GET"]),
            Route(ns, self.rename_namespace, methods=["PUT"]),
            Route(ns, self.delete_namespace, methods=["DELETE"]),
            Route(ns + "/keys", self.list_keys, methods=["GET"]),
            Route(ns + "/usage", self.namespace_usage, methods=["GET"]),
            Route(ns + "/metadata/{key:key}", self.get_metadata, methods=["GET"]),
            Route(ns + "/incr/{key:key}", self.incr, methods=["POST"]),
            Route(ns + "/bulk", self.bulk_put, methods=["PUT"]),
            Route(ns + "/bulk", self.bulk_delete, methods=["DELETE"]),
            Route(ns + "/bulk/delete", self.bulk_delete, methods=["POST"]),
            Route(ns + "/bulk/get", self.bulk_get, methods=["POST"]),
        ]

    # helpers

    def _kv(self, request: Request) -> AsyncKV:
        return AsyncKV(self.store, account_id=request.path_params["account_id"], clock=self.clock)

    async def _info(self, request: Request) -> NamespaceInfo:
        """The namespace of the path, read from the store (its title is shown)."""
        info = await self.store.get_namespace(request.path_params["namespace_id"])
        # A namespace of another account does not exist as far as this path is concerned.
        if info.account_id != request.path_params["account_id"]:
            raise errors.NamespaceNotFound()
        return info

    async def _namespace(self, request: Request) -> AsyncNamespace:
        params = request.path_params
        info = await self.authenticator.namespace_info(params["account_id"], params["namespace_id"])
        return AsyncNamespace(self.store, info, self.clock)

    # namespaces

    async def list_namespaces(self, request: Request) -> Response:
        q = request.query_params
        page = _int(q.get("page"), "page", 1, minimum=1)
        per_page = _int(q.get("per_page"), "per_page", 20, minimum=1, maximum=1000)
        order: NamespaceOrder = (
            "title" if _choice(q.get("order"), "order", ("id", "title")) == "title" else "id"
        )
        direction: Direction = (
            "desc" if _choice(q.get("direction"), "direction", ("asc", "desc")) == "desc" else "asc"
        )
        found = await namespaces_seen(
            self.store,
            principal_of(request.scope),
            request.path_params["account_id"],
            order=order,
            direction=direction,
            offset=(page - 1) * per_page,
            limit=per_page,
        )
        shown, total = found.namespaces, found.total_count
        info = {
            "count": len(shown),
            "page": page,
            "per_page": per_page,
            "total_count": total,
            "total_pages": -(-total // per_page),
        }
        return ok([n.as_json() for n in shown], result_info=info)

    async def create_namespace(self, request: Request) -> Response:
        body = bodies.json_object(await bodies.read_json(request))
        chosen = body.get("id")  # edgekv's extension: the namespace's id, as wrangler.toml has it
        ns = await self._kv(request).create_namespace(body.get("title"), id=chosen)  # type: ignore[arg-type]
        return ok(ns.info.as_json())

    async def get_namespace(self, request: Request) -> Response:
        return ok((await self._info(request)).as_json())

    async def rename_namespace(self, request: Request) -> Response:
        info = await self._info(request)
        body = bodies.json_object(await bodies.read_json(request))
        renamed = await self._kv(request).rename_namespace(info.id, body.get("title"))  # type: ignore[arg-type]
        return ok(renamed.as_json())

    async def delete_namespace(self, request: Request) -> Response:
        info = await self._info(request)
        await self._kv(request).delete_namespace(info.id)
        return ok({})

    async def namespace_usage(self, request: Request) -> Response:
        """edgekv's extension: the keys and bytes the namespace holds (running totals)."""
        ns = await self._namespace(request)
        usage = await self.store.namespace_usage(ns.id)
        return ok({"keys": usage.keys, "bytes": usage.bytes})

    # keys and values

    async def list_keys(self, request: Request) -> Response:
        ns = await self._namespace(request)
        q = request.query_params
        limit = limits.validate_list_limit(q.get("limit"))
        cursor = q.get("cursor") or None
        page = await ns.list(prefix=q.get("prefix"), limit=limit, cursor=cursor)
        # The official SDK stops at the first empty page: never answer one that is not the last.
        while not page.keys and not page.list_complete and page.cursor:
            page = await ns.list(prefix=q.get("prefix"), limit=limit, cursor=page.cursor)
        self._count(ns, "list")  # one list request, however many pages it looked through
        info = {"count": len(page.keys), "cursor": page.cursor or ""}
        # Cloudflare's fields unless edgekv's are asked for: wrangler and the SDKs show what
        # they get, and code written for Workers KV expects its shape.
        extensions = _choice(q.get("extensions"), "extensions", ("false", "true")) == "true"
        return ok([k.as_json(extensions=extensions) for k in page.keys], result_info=info)

    async def get_metadata(self, request: Request) -> Response:
        key = _key(request)
        ns = await self._namespace(request)
        got = await ns.get_with_metadata(key, "bytes")
        self._count(ns, "read")
        if got.value is None:
            raise errors.KeyNotFound()
        return ok(got.metadata)

    async def incr(self, request: Request) -> Response:
        key = _key(request)
        ns = await self._namespace(request)
        body = await bodies.read_json(request) if await _has_body(request) else {}
        body = bodies.json_object(body)
        value = await ns.incr(
            key,
            body.get("by", 1),
            expiration=body.get("expiration"),
            expiration_ttl=body.get("expiration_ttl"),
        )
        # Billed as the Worker code it stands for: a read and a write.
        self._count(ns, "read")
        self._count(ns, "write")
        return ok({"value": value})

    # bulk

    async def bulk_put(self, request: Request) -> Response:
        ns = await self._namespace(request)
        body = await bodies.read_json(request, bodies.MAX_BULK_BODY)
        if not isinstance(body, list):
            raise MalformedRequest("The request body must be a JSON array of key-value pairs.")
        result = await ns.bulk_put(body)
        self._count(ns, "write", result.successful_key_count, result.value_bytes)  # per key
        return ok(
            {
                "successful_key_count": result.successful_key_count,
                "unsuccessful_keys": result.unsuccessful_keys,
            }
        )

    async def bulk_delete(self, request: Request) -> Response:
        ns = await self._namespace(request)
        body = await bodies.read_json(request, bodies.MAX_BULK_BODY)
        if not isinstance(body, list):
            raise MalformedRequest("The request body must be a JSON array of keys.")
        result = await ns.bulk_delete(body)
        self._count(ns, "delete", result.successful_key_count)  # per key
        return ok(
            {
                "successful_key_count": result.successful_key_count,
                "unsuccessful_keys": result.unsuccessful_keys,
            }
        )

    async def bulk_get(self, request: Request) -> Response:
        ns = await self._namespace(request)
        body = bodies.json_object(await bodies.read_json(request))
        keys, type_ = body.get("keys"), body.get("type", "text")
        with_metadata = bodies.flag(body, "withMetadata")
        cache_ttl = body.get("cacheTtl")  # validated by the namespace handle, as keys and type
        if type_ == "arrayBuffer":
            ttl = None if cache_ttl is None else limits.validate_cache_ttl(cache_ttl)
            return ok({"values": await self._bulk_get_bytes(ns, keys, with_metadata, ttl)})
        if not isinstance(keys, list):
            raise errors.InvalidBulkRequest("Keys must be an array of strings.")
        if not with_metadata:
            plain = await ns.get(keys, type_, cache_ttl=cache_ttl)
            self._count(ns, "read", len(plain), sum(map(value_size, plain.values())))
            return ok({"values": plain})
        found = await ns.get_with_metadata(keys, type_, cache_ttl=cache_ttl)
        self._count(ns, "read", len(found), sum(value_size(v.value) for v in found.values() if v))
        values: dict[str, Any] = {}
        for k, v in found.items():
            if v is None:
                values[k] = None
                continue
            item = {"value": v.value, "metadata": v.metadata}
            if v.expiration is not None:
                item["expiration"] = v.expiration
            values[k] = item
        return ok({"values": values})

    async def _bulk_get_bytes(
        self, ns: AsyncNamespace, keys: Any, with_metadata: bool, ttl: int | None
    ) -> dict[str, Any]:
        """edgekv's extension: values as base64, with their version when withMetadata is set."""
        checked = limits.validate_bulk_get_keys(keys)
        entries = await self.store.get_many(ns.id, checked, cache_ttl=ttl)
        self._count(ns, "read", len(checked), sum(len(e.value) for e in entries if e))
        total = sum(len(e.value) for e in entries if e is not None)
        if total > limits.MAX_BULK_GET_RESULT_BYTES:
            raise errors.BulkResultTooLarge(
                f"Values of the requested keys total {total} bytes, over the limit of "
                f"{limits.MAX_BULK_GET_RESULT_BYTES}."
            )
        return {k: _bytes_item(e, with_metadata) for k, e in zip(checked, entries, strict=True)}


async def namespaces_seen(
    store: AsyncStore,
    principal: Principal,
    account_id: str,
    *,
    order: NamespaceOrder = "id",
    direction: Direction = "asc",
    offset: int = 0,
    limit: int = 20,
) -> NamespacePage:
    """A page of the account's namespaces that the principal sees (the REST list, the
    dashboard): a namespace-scoped token sees its own only."""
    token = principal.token
    if token is None or not token.namespaces:
        return await store.list_namespaces(
            account_id, order=order, direction=direction, offset=offset, limit=limit
        )
    # A namespace-scoped token's namespaces are few, so they are paged here.
    everything = await store.list_namespaces(
        account_id, order=order, direction=direction, limit=1 << 30
    )
    mine = [n for n in everything.namespaces if n.id in token.namespaces]
    return NamespacePage(mine[offset : offset + limit], len(mine))


def _bytes_item(entry: StoredEntry | None, with_metadata: bool) -> Any:
    if entry is None:
        return None
    value = base64.b64encode(entry.value).decode()
    if not with_metadata:
        return value
    item = {"value": value, "metadata": entry.metadata, "version": entry.version}
    if entry.expiration is not None:
        item["expiration"] = entry.expiration
    if entry.written_at is not None:
        item["written_at"] = entry.written_at
    return item


def _key(request: Request) -> str:
    """The key of a `.../{what}/{key}` path, percent-decoded once (the namespace handle
    validates it)."""
    path = v4_path(raw_path(request.scope))
    return percent_decode(b"" if path is None or path.rest is None else path.rest)


def _int(text: str | None, name: str, default: int, *, minimum: int, maximum: int = 1 << 31) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise errors.BadRequest(
            f"Invalid {name} of {text}. Please specify an integer from {minimum} to {maximum}."
        )
    return value


def _choice(text: str | None, name: str, allowed: tuple[str, str]) -> str:
    if text is None or text == "":
        return allowed[0]
    if text not in allowed:
        raise errors.BadRequest(f'Invalid {name} of {text}. Use "{allowed[0]}" or "{allowed[1]}".')
    return text


async def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is None and "transfer-encoding" in request.headers) or bool(
        length and length.strip() != "0"
    )
