"""Cloudflare's JSON envelope, and the errors only the HTTP layer raises.

Every JSON answer is `{"success", "errors", "messages", "result", "result_info"?}`. Any
`edgekv.errors.KVError` becomes an envelope by its own `.status`, `.code` and `.message`: there
is no table of special cases here.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from edgekv import errors
from edgekv.compact import json_bytes


class AuthenticationError(errors.KVError):
    """No credentials, or ones that no account knows."""

    status = 401
    code = 10000
    default_message = "Authentication error"


class Forbidden(AuthenticationError):
    """Credentials that may not do this: another account, another namespace, a read-only token."""

    status = 403


class NoRoute(errors.KVError):
    status = 404
    code = 7000
    default_message = "No route for that URI"


class UnknownAccount(errors.KVError):
    status = 404
    code = 7003
    default_message = (
        "Could not route to the account in this URI, perhaps your object identifier is invalid?"
    )


class MethodNotAllowed(errors.KVError):
    status = 405
    code = 7001
    default_message = "Method not allowed for this route"


class MalformedRequest(errors.BadRequest):
    """A body or path that does not parse (JSON, multipart, percent-encoding)."""

    code = 10036


class RequestTooLarge(errors.BadRequest):
    status = 413
    code = 10037


def _dump(body: Any) -> bytes:
    return json_bytes(body)


def ok(
    result: Any,
    *,
    result_info: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    messages: list[Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "success": True,
        "errors": [],
        "messages": messages or [],
        "result": result,
    }
    if result_info is not None:
        body["result_info"] = result_info
    return Response(_dump(body), status, headers, media_type="application/json")


def failure(
    error: errors.KVError, headers: dict[str, str] | None = None, *, result: Any = None
) -> Response:
    body = {"success": False, "errors": [error.envelope_error()], "messages": [], "result": result}
    return Response(_dump(body), error.status, headers, media_type="application/json")
