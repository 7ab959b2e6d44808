"""`/openapi.json`: an OpenAPI 3.1 description of what the server serves."""

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
    summary: str,
    result: dict[str, Any] | None,
    *,
    params: list[str] = (),  # type: ignore[assignment]
    query: list[dict[str, Any]] = (),  # type: ignore[assignment]
    body: dict[str, Any] | None = None,
    info: str | None = None,
    raw: bool = False,
    secured: bool = True,
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
        "summary": summary,
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params] + list(query),
        "responses": {"200": ok, "default": {"description": "Error", **_json(_ref("Failure"))}},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": body.get("content", body)}
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
    op = _op("Health of the node and its dependencies", _HEALTH, secured=False)
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


def _q(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_INT_OR_TEXT = {"type": ["integer", "string"]}
_KEY_PARAMS = ["account_id", "namespace_id", "key"]
_NS_PARAMS = ["account_id", "namespace_id"]
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
        "summary": "GraphQL Analytics API: kvOperationsAdaptiveGroups, kvStorageAdaptiveGroups",
        "requestBody": {"required": True, **_json(request)},
        "responses": {
            "200": {"description": "The query's data, or its errors", **answer},
            "400": {"description": "Not a GraphQL request", **answer},
            "default": {"description": "Error", **_json(_ref("Failure"))},
        },
    }


def _paths() -> dict[str, Any]:
    title_body = _json(
        {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}
    )
    value_body = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["value"],
                "properties": {
                    "value": {"type": "string", "format": "binary"},
                    "metadata": {"type": "string", "description": "metadata as one JSON text"},
                },
            }
        },
    }
    expiry = [_q("expiration", _INT_OR_TEXT), _q("expiration_ttl", _INT_OR_TEXT)]
    string_array = {"type": "array", "items": {"type": "string"}}
    return {
        **_feed_paths(),
        "/healthz": {"get": _healthz()},
        "/client/v4/accounts": {"get": _op("Accounts the token sees", {"type": "array"})},
        "/client/v4/memberships": {"get": _op("Memberships (wrangler)", {"type": "array"})},
        "/client/v4/user/tokens/verify": {"get": _op("Verify the token", {"type": "object"})},
        "/client/v4/graphql": {"post": _graphql_op()},
        _BASE: {
            "get": _op(
                "List namespaces",
                {"type": "array", "items": _ref("Namespace")},
                params=["account_id"],
                query=[
                    _q("page", {"type": "integer", "minimum": 1}),
                    _q("per_page", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _q("order", {"enum": ["id", "title"]}),
                    _q("direction", {"enum": ["asc", "desc"]}),
                ],
                info="PageInfo",
            ),
            "post": _op(
                "Create a namespace (edgekv: `id` chooses its id, 32 lowercase hex digits)",
                _ref("Namespace"),
                params=["account_id"],
                body=_json(
                    {
                        "type": "object",
                        "required": ["title"],
                        "properties": {
                            "title": {"type": "string"},
                            "id": {"type": "string", "pattern": f"^{limits.NAMESPACE_ID.pattern}$"},
                        },
                    }
                ),
            ),
        },
        _BASE + "/{namespace_id}": {
            "get": _op("Read a namespace", _ref("Namespace"), params=_NS_PARAMS),
            "put": _op("Rename a namespace", _ref("Namespace"), params=_NS_PARAMS, body=title_body),
            "delete": _op("Delete a namespace and its keys", {"type": "object"}, params=_NS_PARAMS),
        },
        _BASE + "/{namespace_id}/keys": {
            "get": _op(
                "List keys",
                {"type": "array", "items": _ref("Key")},
                params=_NS_PARAMS,
                query=[
                    _q("prefix", {"type": "string"}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _q("cursor", {"type": "string"}),
                    _q("extensions", {"type": "string", "enum": ["true", "false"]}),
                ],
                info="CursorInfo",
            )
        },
        _BASE + "/{namespace_id}/values/{key}": {
            "get": _op("Read a value", None, params=_KEY_PARAMS, raw=True),
            "put": _op(
                "Write a value",
                {"type": "object"},
                params=_KEY_PARAMS,
                query=expiry,
                body=value_body,
            ),
            "delete": _op("Delete a key", {"type": "object"}, params=_KEY_PARAMS),
        },
        _BASE + "/{namespace_id}/metadata/{key}": {
            "get": _op("Read a key's metadata", {}, params=_KEY_PARAMS)
        },
        _BASE + "/{namespace_id}/incr/{key}": {
            "post": _op(
                "Add to an integer value atomically (edgekv)",
                {"type": "object", "properties": {"value": {"type": "integer"}}},
                params=_KEY_PARAMS,
                body=_json(
                    {
                        "type": "object",
                        "properties": {
                            "by": {"type": "integer"},
                            "expiration": {"type": "integer"},
                            "expiration_ttl": {"type": "integer"},
                        },
                    }
                ),
            )
        },
        _BASE + "/{namespace_id}/bulk": {
            "put": _op(
                "Write up to 10,000 pairs",
                _BULK_RESULT,
                params=_NS_PARAMS,
                body=_json({"type": "array", "items": _ref("BulkPair")}),
            ),
            "delete": _op(
                "Delete up to 10,000 keys (older form)",
                _BULK_RESULT,
                params=_NS_PARAMS,
                body=_json(string_array),
            ),
        },
        _BASE + "/{namespace_id}/bulk/delete": {
            "post": _op(
                "Delete up to 10,000 keys",
                _BULK_RESULT,
                params=_NS_PARAMS,
                body=_json(string_array),
            )
        },
        _BASE + "/{namespace_id}/bulk/get": {
            "post": _op(
                "Read up to 100 keys",
                {"type": "object", "properties": {"values": {"type": "object"}}},
                params=_NS_PARAMS,
                body=_json(
                    {
                        "type": "object",
                        "required": ["keys"],
                        "properties": {
                            "keys": string_array,
                            "type": {"enum": ["text", "json", "arrayBuffer"]},
                            "withMetadata": {"type": "boolean"},
                        },
                    }
                ),
            )
        },
    }


def _feed_paths() -> dict[str, Any]:
    """edgekv's change feed of an account (src/edgekv/server/rest/changes.py)."""
    feed = "/client/v4/accounts/{account_id}/storage/kv/changes"
    position = _q("position", {"type": "string", "description": "opaque, from a previous answer"})
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
                "The feed's current end (edgekv)",
                {"type": "object", "properties": {"position": {"type": "string"}}},
                params=["account_id"],
            )
        },
        feed + "/wait": {
            "get": _op(
                "Long poll: until there may be changes after a position (edgekv)",
                {"type": "object", "properties": {"changed": {"type": "boolean"}}},
                params=["account_id"],
                query=[position, _q("seconds", {"type": "number", "minimum": 0, "maximum": 30})],
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
                    "key": {"type": "string"},
                    "value": {"type": "string"},
                    "expiration": {"type": "integer"},
                    "expiration_ttl": {"type": "integer"},
                    "metadata": {},
                    "base64": {"type": "boolean"},
                },
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
            "description": "Workers KV REST API v4, served by edgekv.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"authKey": []}],
        "paths": _paths(),
        "components": _components(),
    }
