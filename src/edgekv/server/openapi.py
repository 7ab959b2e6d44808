"""`/openapi.json`: an OpenAPI 3.1 description of what the server serves, exactly.

Every parameter and body states the rules the server checks (docs/contract.md), so a request
valid by this document is accepted and an invalid one refused with a 4xx; schemathesis holds
the server to it (tests/server/test_schema.py). Three rules no JSON Schema can state are named
by a `format` of edgekv's and written in the descriptions: keys and prefixes count UTF-8 bytes
(`kv-key`, `kv-prefix`), list cursors and feed positions are opaque (`kv-cursor`,
`feed-position`: only one the server answered is valid), and an expiration must be at least
60 seconds after the server's clock. The web dashboard (`/dashboard`) and the relay protocol
(`/relay`, for edges) are not part of the public API and are left out.
"""

from __future__ import annotations

import functools
from typing import Any

import edgekv
from edgekv import limits

_REF = "#/components/schemas/"
_BASE = "/client/v4/accounts/{account_id}/storage/kv/namespaces"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def _envelope(result: dict[str, Any], info: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["success", "errors", "messages", "result"],
        "properties": {
            "success": {"const": True},
            "errors": {"type": "array", "maxItems": 0},
            "messages": {"type": "array"},
            "result": result,
        },
    }
    if info:
        schema["properties"]["result_info"] = _ref(info)
    return schema


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    operation_id: str,
    summary: str,
    result: dict[str, Any] | None,
    *,
    params: list[str] = (),  # type: ignore[assignment]
    query: list[dict[str, Any]] = (),  # type: ignore[assignment]
    body: dict[str, Any] | None = None,
    info: str | None = None,
    raw: bool = False,
    secured: bool = True,
    body_required: bool = True,
) -> dict[str, Any]:
    ok: dict[str, Any]
    if raw:
        ok = {
            "description": "The value, as raw bytes",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    else:
        ok = {"description": "Success", **_json(_envelope(result or {}, info))}
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params] + list(query),
        "responses": {"200": ok, "default": {"description": "Error", **_json(_ref("Failure"))}},
    }
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": body.get("content", body)}
    if not secured:
        op["security"] = []
    return op


_HEALTH = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"enum": ["ok", "unavailable"]},
        # central_store, change_feed: "ok" or "unavailable: <reason>" (docs/server.md)
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _healthz() -> dict[str, Any]:
    """200 while the central store answers, 503 (its envelope, the checks in `result`) while
    it does not."""
    op = _op("health", "Health of the node and its dependencies", _HEALTH, secured=False)
    down = {
        "type": "object",
        "required": ["success", "errors", "result"],
        "properties": {
            "success": {"const": False},
            "errors": {"type": "array", "minItems": 1},
            "messages": {"type": "array"},
            "result": _HEALTH,
        },
    }
    op["responses"]["503"] = {"description": "The central store does not answer", **_json(down)}
    return op


def _q(name: str, schema: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    """An optional query parameter; empty (`?name=`) means absent, as the server reads it."""
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    param["allowEmptyValue"] = True
    if description:
        param["description"] = description
    return param


_EXPIRATION = {
    "type": "integer",
    "minimum": 1,
    "maximum": limits.MAX_EXPIRATION,
    "description": "epoch seconds, at least 60 seconds after the server's clock",
}
_EXPIRATION_TTL = {
    "type": "integer",
    "minimum": limits.MIN_EXPIRATION_TTL,
    "maximum": limits.MAX_EXPIRATION_TTL,
}
_KEY = {
    "type": "string",
    "format": "kv-key",
    "minLength": 1,
    "maxLength": limits.MAX_KEY_BYTES,
    "not": {"enum": [".", ".."]},
    "description": "1 to 512 bytes of UTF-8, not . or ..",
}
_BASE64 = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_METADATA = {"description": "any JSON value of at most 1024 bytes once serialised compactly"}
_KEY_PARAMS = ["account_id", "namespace_id", "key"]
_NS_PARAMS = ["account_id", "namespace_id"]
_KEYS = {"type": "array", "items": _KEY, "maxItems": limits.MAX_BULK_WRITE_PAIRS}
_BULK_RESULT = {
    "type": "object",
    "properties": {
        "successful_key_count": {"type": "integer"},
        "unsuccessful_keys": {"type": "array", "items": {"type": "string"}},
    },
}


def _graphql_op() -> dict[str, Any]:
    """Cloudflare's GraphQL Analytics API (docs/analytics.md): answers are GraphQL's own
    `{"data", "errors"}`, not envelopes; 400 for a body that is no GraphQL request."""
    answer = _json(
        {
            "type": "object",
            "required": ["data", "errors"],
            "properties": {"data": {}, "errors": {"type": ["array", "null"]}},
        }
    )
    request = {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string"},
            "variables": {"type": ["object", "null"]},
            "operationName": {"type": ["string", "null"]},
        },
    }
    return {
        "operationId": "graphql",
        "summary": "GraphQL Analytics API: kvOperationsAdaptiveGroups, kvStorageAdaptiveGroups",
        "requestBody": {"required": True, **_json(request)},
        "responses": {
            "200": {"description": "The query's data, or its errors", **answer},
            "400": {"description": "Not a GraphQL request", **answer},
            "default": {"description": "Error", **_json(_ref("Failure"))},
        },
    }


def _links(**targets: dict[str, str]) -> dict[str, Any]:
    """OpenAPI links of a success answer: the operations its ids lead to (stateful tests)."""
    return {f"{op}": {"operationId": op, "parameters": params} for op, params in targets.items()}


def _paths() -> dict[str, Any]:
    title = {
        "type": "string",
        "minLength": 1,
        "maxLength": limits.MAX_NAMESPACE_TITLE,
        # Not only spaces, no control characters (U+0000-U+001F, U+007F).
        "pattern": "^[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$",
        "description": "unique in the account",
    }
    title_body = _json(
        {
            "type": "object",
            "required": ["title"],
            "properties": {"title": title},
        }
    )
    value_body = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["value"],
                "properties": {
                    "value": {"type": "string", "format": "binary"},
                    "metadata": {
                        "type": "object",
                        "description": "metadata as one JSON text, at most 1024 bytes compact",
                    },
                },
                "additionalProperties": False,
            },
            "encoding": {"metadata": {"contentType": "application/json"}},
        },
    }
    expiry = [_q("expiration", _EXPIRATION), _q("expiration_ttl", _EXPIRATION_TTL)]
    ns_ids = {
        "account_id": "$request.path.account_id",
        "namespace_id": "$response.body#/result/id",
    }
    same_ns = {
        "account_id": "$request.path.account_id",
        "namespace_id": "$request.path.namespace_id",
    }
    same_key = {**same_ns, "key": "$request.path.key"}
    created = _op(
        "createNamespace",
        "Create a namespace (edgekv: `id` chooses its id, 32 lowercase hex digits)",
        _ref("Namespace"),
        params=["account_id"],
        body=_json(
            {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": title,
                    "id": {
                        "type": ["string", "null"],
                        "pattern": f"^{limits.NAMESPACE_ID.pattern}$",
                        "description": "null or absent: the store makes one",
                    },
                },
                "additionalProperties": False,
            }
        ),
    )
    created["responses"]["200"]["links"] = _links(
        getNamespace=ns_ids,
        renameNamespace=ns_ids,
        listKeys=ns_ids,
        putValue=ns_ids,
        bulkPut=ns_ids,
        bulkGet=ns_ids,
        namespaceUsage=ns_ids,
        bulkDelete=ns_ids,
        bulkDeleteOlder=ns_ids,
        deleteNamespace=ns_ids,
    )
    written = _op(
        "putValue",
        "Write a value",
        {"type": "object"},
        params=_KEY_PARAMS,
        query=expiry,
        body=value_body,
    )
    written["responses"]["200"]["links"] = _links(
        getValue=same_key, getMetadata=same_key, deleteValue=same_key, listKeys=same_ns
    )
    return {
        **_feed_paths(),
        "/healthz": {"get": _healthz()},
        "/client/v4/accounts": {
            "get": _op("listAccounts", "Accounts the token sees", {"type": "array"})
        },
        "/client/v4/memberships": {
            "get": _op("listMemberships", "Memberships (wrangler)", {"type": "array"})
        },
        "/client/v4/user/tokens/verify": {
            "get": _op("verifyToken", "Verify the token", {"type": "object"})
        },
        "/client/v4/graphql": {"post": _graphql_op()},
        _BASE: {
            "get": _op(
                "listNamespaces",
                "List namespaces",
                {"type": "array", "items": _ref("Namespace")},
                params=["account_id"],
                query=[
                    _q("page", {"type": "integer", "minimum": 1, "maximum": 1 << 31}),
                    _q("per_page", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _q("order", {"enum": ["id", "title"]}),
                    _q("direction", {"enum": ["asc", "desc"]}),
                ],
                info="PageInfo",
            ),
            "post": created,
        },
        _BASE + "/{namespace_id}": {
            "get": _op("getNamespace", "Read a namespace", _ref("Namespace"), params=_NS_PARAMS),
            "put": _op(
                "renameNamespace",
                "Rename a namespace",
                _ref("Namespace"),
                params=_NS_PARAMS,
                body=title_body,
            ),
            "delete": _op(
                "deleteNamespace",
                "Delete a namespace and its keys",
                {"type": "object"},
                params=_NS_PARAMS,
            ),
        },
        _BASE + "/{namespace_id}/keys": {
            "get": _op(
                "listKeys",
                "List keys",
                {"type": "array", "items": _ref("Key")},
                params=_NS_PARAMS,
                query=[
                    _q(
                        "prefix",
                        {
                            "type": "string",
                            "format": "kv-prefix",
                            "maxLength": limits.MAX_KEY_BYTES,
                        },
                        "at most 512 bytes of UTF-8",
                    ),
                    _q(
                        "limit", {"type": "integer", "minimum": 1, "maximum": limits.MAX_LIST_LIMIT}
                    ),
                    _q(
                        "cursor",
                        {"type": "string", "format": "kv-cursor", "pattern": "^[A-Za-z0-9_-]*$"},
                        "opaque: the cursor a previous page answered",
                    ),
                    _q("extensions", {"type": "string", "enum": ["true", "false"]}),
                ],
                info="CursorInfo",
            )
        },
        _BASE + "/{namespace_id}/usage": {
            "get": _op(
                "namespaceUsage",
                "The keys and bytes the namespace holds (edgekv)",
                {
                    "type": "object",
                    "required": ["keys", "bytes"],
                    "properties": {"keys": {"type": "integer"}, "bytes": {"type": "integer"}},
                },
                params=_NS_PARAMS,
            )
        },
        _BASE + "/{namespace_id}/values/{key}": {
            "get": _op("getValue", "Read a value", None, params=_KEY_PARAMS, raw=True),
            "put": written,
            "delete": _op("deleteValue", "Delete a key", {"type": "object"}, params=_KEY_PARAMS),
        },
        _BASE + "/{namespace_id}/metadata/{key}": {
            "get": _op("getMetadata", "Read a key's metadata", {}, params=_KEY_PARAMS)
        },
        _BASE + "/{namespace_id}/incr/{key}": {
            "post": _op(
                "incr",
                "Add to an integer value atomically (edgekv)",
                {"type": "object", "properties": {"value": {"type": "integer"}}},
                params=_KEY_PARAMS,
                body=_json(
                    {
                        "type": "object",
                        "properties": {
                            "by": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
                            "expiration": _EXPIRATION,
                            "expiration_ttl": _EXPIRATION_TTL,
                        },
                    }
                ),
                body_required=False,
            )
        },
        _BASE + "/{namespace_id}/bulk": {
            "put": _op(
                "bulkPut",
                "Write up to 10,000 pairs",
                _BULK_RESULT,
                params=_NS_PARAMS,
                body=_json(
                    {
                        "type": "array",
                        "items": _ref("BulkPair"),
                        "maxItems": limits.MAX_BULK_WRITE_PAIRS,
                    }
                ),
            ),
            "delete": _op(
                "bulkDeleteOlder",
                "Delete up to 10,000 keys (older form)",
                _BULK_RESULT,
                params=_NS_PARAMS,
                body=_json(_KEYS),
            ),
        },
        _BASE + "/{namespace_id}/bulk/delete": {
            "post": _op(
                "bulkDelete",
                "Delete up to 10,000 keys",
                _BULK_RESULT,
                params=_NS_PARAMS,
                body=_json(_KEYS),
            )
        },
        _BASE + "/{namespace_id}/bulk/get": {
            "post": _op(
                "bulkGet",
                "Read up to 100 keys",
                {"type": "object", "properties": {"values": {"type": "object"}}},
                params=_NS_PARAMS,
                body=_json(
                    {
                        "type": "object",
                        "required": ["keys"],
                        "properties": {
                            "keys": {
                                "type": "array",
                                "items": _KEY,
                                "minItems": 1,
                                "maxItems": limits.MAX_BULK_GET_KEYS,
                            },
                            "type": {
                                "enum": ["text", "json", "arrayBuffer", None],
                                "description": "json: every value found must be JSON, else "
                                "400; null or absent: text",
                            },
                            "withMetadata": {"type": "boolean"},
                            "cacheTtl": {
                                "type": ["integer", "null"],
                                "minimum": limits.MIN_CACHE_TTL,
                                "description": "null or absent: 60",
                            },
                        },
                    }
                ),
            )
        },
    }


def _feed_paths() -> dict[str, Any]:
    """edgekv's change feed of an account (src/edgekv/server/rest/changes.py)."""
    feed = "/client/v4/accounts/{account_id}/storage/kv/changes"
    position = _q(
        "position",
        {"type": "string", "format": "feed-position"},
        "opaque: a position a previous answer gave",
    )
    change = {
        "type": "object",
        "required": ["seq", "namespace_id", "key", "at"],
        "properties": {
            "seq": {"type": "integer"},
            "namespace_id": {"type": "string"},
            "key": {"type": ["string", "null"], "description": "null: the whole namespace"},
            "at": {"type": "number"},
        },
    }
    return {
        feed: {
            "get": _op(
                "changes",
                "The account's changes after a position (edgekv)",
                {
                    "type": "object",
                    "required": ["changes", "position", "behind"],
                    "properties": {
                        "changes": {"type": "array", "items": change},
                        "position": {"type": "string"},
                        "behind": {"type": "boolean"},
                        "more": {"type": "boolean"},
                    },
                },
                params=["account_id"],
                query=[position, _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
            )
        },
        feed + "/position": {
            "get": _op(
                "feedPosition",
                "The feed's current end (edgekv)",
                {"type": "object", "properties": {"position": {"type": "string"}}},
                params=["account_id"],
            )
        },
        feed + "/wait": {
            "get": _op(
                "waitForChanges",
                "Long poll: until there may be changes after a position (edgekv)",
                {"type": "object", "properties": {"changed": {"type": "boolean"}}},
                params=["account_id"],
                query=[
                    position,
                    _q(
                        "seconds",
                        {"type": "number", "minimum": 0},
                        "seconds to wait at most; more than 30 waits 30",
                    ),
                ],
            )
        },
    }


def _components() -> dict[str, Any]:
    def path_param(name: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}

    return {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "authKey": {"type": "apiKey", "in": "header", "name": "X-Auth-Key"},
        },
        "parameters": {
            "account_id": path_param("account_id"),
            "namespace_id": path_param("namespace_id"),
            "key": {
                **path_param("key"),
                "description": "The key, percent-encoded as one path segment",
            },
        },
        "schemas": {
            "Failure": {
                "type": "object",
                "required": ["success", "errors"],
                "properties": {
                    "success": {"const": False},
                    "errors": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "integer"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                    "messages": {"type": "array"},
                    "result": {"type": "null"},
                },
            },
            "Namespace": {
                "type": "object",
                "required": ["id", "title"],
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "supports_url_encoding": {"type": "boolean"},
                },
            },
            "Key": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "expiration": {"type": "integer"},
                    "metadata": {},
                    "size": {"type": "integer", "description": "bytes of the value (edgekv)"},
                    "written_at": {
                        "type": "integer",
                        "description": "epoch seconds of the last write, where known (edgekv)",
                    },
                },
            },
            "BulkPair": {
                "type": "object",
                "required": ["key", "value"],
                "properties": {
                    "key": _KEY,
                    "value": {"type": "string"},
                    "expiration": _EXPIRATION,
                    "expiration_ttl": _EXPIRATION_TTL,
                    "metadata": _METADATA,
                    "base64": {"type": "boolean"},
                },
                # With base64 true, the value is the padded base64 of the bytes to store.
                "oneOf": [
                    {
                        "required": ["base64"],
                        "properties": {
                            "base64": {"const": True},
                            "value": {"type": "string", "pattern": _BASE64},
                        },
                    },
                    {"not": {"required": ["base64"], "properties": {"base64": {"const": True}}}},
                ],
            },
            "PageInfo": {
                "type": "object",
                "properties": {
                    "count": {"type": "integer"},
                    "page": {"type": "integer"},
                    "per_page": {"type": "integer"},
                    "total_count": {"type": "integer"},
                },
            },
            "CursorInfo": {
                "type": "object",
                "required": ["count", "cursor"],
                "properties": {"count": {"type": "integer"}, "cursor": {"type": "string"}},
            },
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "edgekv",
            "version": edgekv.__version__,
            "description": (
                "Workers KV REST API v4, served by edgekv. Not described here, as not part of "
                "the public API: the web dashboard (/dashboard) and the relay protocol "
                "(/relay/v1, for edges). Formats of edgekv's: kv-key and kv-prefix (at most 512 "
                "bytes of UTF-8), kv-cursor (a cursor a page answered), feed-position (a "
                "position an answer gave)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"authKey": []}],
        "paths": _paths(),
        "components": _components(),
    }
