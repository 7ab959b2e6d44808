"""`POST /client/v4/graphql`: the endpoint Cloudflare's GraphQL Analytics API answers at.

The same tokens as the REST API (the auth middleware has checked the request's token before
it gets here), each seeing its own account (and a namespace-scoped token its namespaces).
Answers are Cloudflare's: HTTP 200 with `{"data": ..., "errors": null}`, or with `errors`
(each with its `path` and `extensions.code`) when the query is invalid, asks for another
account, or fails. Before answering, the server writes what it counted itself, so a query
sees its own server's operations at once, and other servers' within their flush period.
"""

from __future__ import annotations

import json
import time
from typing import Any

from graphql import GraphQLError, graphql
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edgekv.analytics.log import UsageLog
from edgekv.server.auth import principal_of
from edgekv.server.graphql import datasets
from edgekv.server.graphql.schema import SCHEMA
from edgekv.server.paths import API_PREFIX

_RESOLVERS = {
    ("Query", "viewer"): datasets.resolve_viewer,
    ("viewer", "accounts"): datasets.resolve_accounts,
    ("account", "kvOperationsAdaptiveGroups"): datasets.resolve_operations,
    ("account", "kvStorageAdaptiveGroups"): datasets.resolve_storage,
}
for (type_name, field_name), resolver in _RESOLVERS.items():
    SCHEMA.get_type(type_name).fields[field_name].resolve = resolver  # type: ignore[union-attr]

MAX_BODY = 1 << 20


def _error(message: str, code: str = "bad_request") -> dict[str, Any]:
    return {"message": message, "path": None, "extensions": {"code": code, "timestamp": _now()}}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def graphql_route(log: UsageLog) -> Route:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if len(raw) <= MAX_BODY else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            message = "the request body must be a JSON object with a query string"
            return JSONResponse({"data": None, "errors": [_error(message)]}, status_code=400)
        variables, operation = body.get("variables"), body.get("operationName")
        if variables is not None and not isinstance(variables, dict):
            return JSONResponse(
                {"data": None, "errors": [_error("variables must be a JSON object")]},
                status_code=400,
            )
        if operation is not None and not isinstance(operation, str):
            return JSONResponse(
                {"data": None, "errors": [_error("operationName must be a string")]},
                status_code=400,
            )
        await log.flush()  # this server's own counts, seen at once
        context = datasets.Context(log, principal_of(request.scope))
        result = await graphql(
            SCHEMA,
            body["query"],
            context_value=context,
            variable_values=variables,
            operation_name=operation,
        )
        errors = None if not result.errors else [_formatted(e) for e in result.errors]
        return JSONResponse({"data": result.data, "errors": errors})

    return Route(API_PREFIX + "/graphql", endpoint, methods=["POST"])


def _formatted(error: GraphQLError) -> dict[str, Any]:
    out = error.formatted
    extensions = dict(out.get("extensions") or {})
    extensions.setdefault("code", "bad_request")
    extensions["timestamp"] = _now()
    return {
        "message": out["message"],
        "path": out.get("path"),
        "locations": out.get("locations"),
        "extensions": extensions,
    }
