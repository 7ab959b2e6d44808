"""The REST API v4's path layout, parsed in one place, and keys percent-decoded in one place.

`/client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/{what}/{key}`: the auth
check, the value routes and the key routes read the same segments from the same split. Keys
travel percent-encoded as one segment (`a/b c` as `a%2Fb%20c`) and are decoded exactly once,
with plain percent-decoding: `+` stays a plus (workerd's GET and PUT send it literally).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

from edgekv import limits
from edgekv.server.envelope import MalformedRequest

API_PREFIX = "/client/v4"
ACCOUNTS = b"/client/v4/accounts/"
NAMESPACES = "/client/v4/accounts/{account_id}/storage/kv/namespaces"
_STRAY_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class V4Path(NamedTuple):
    """The segments of a path under `/client/v4/accounts/`, as sent (still percent-encoded).

    `namespace` is empty and `what` empty unless the path goes that deep; `rest` is everything
    after `{what}/` (a key, or `get`/`delete` after `bulk/`).
    """

    account: bytes
    namespace: bytes
    what: bytes
    rest: bytes | None


_path = tuple.__new__


def v4_path(raw_path: bytes) -> V4Path | None:
    """The account, namespace and what follows of a `/client/v4/accounts/...` path; None for
    any other path. Nothing is decoded: a caller decodes only what it uses."""
    if not raw_path.startswith(ACCOUNTS):
        return None
    if b"?" in raw_path:  # ASGI servers keep the query out of raw_path; some do not
        raw_path = raw_path.split(b"?", 1)[0]
    parts = raw_path.split(b"/", 10)
    # '', client, v4, accounts, A, storage, kv, namespaces, NS, what, rest
    account = parts[4]
    if len(parts) < 9 or parts[7] != b"namespaces" or parts[6] != b"kv" or parts[5] != b"storage":
        return _path(V4Path, (account, b"", b"", None))
    # Made as a tuple is (the named tuple's own __new__ is Python, and this runs per request).
    return _path(
        V4Path,
        (
            account,
            parts[8],
            parts[9] if len(parts) > 9 else b"",
            parts[10] if len(parts) > 10 else None,
        ),
    )


def percent_decode(raw: bytes) -> str:
    """Plain percent-decoding, once: `+` stays a plus; a stray `%` or bad UTF-8 is a 400."""
    if b"%" not in raw:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedRequest("The URL path is not valid UTF-8.") from e
    if _STRAY_PERCENT.search(raw):
        raise MalformedRequest("Malformed percent-encoding in the URL path.")
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedRequest("The URL path is not valid UTF-8 once percent-decoded.") from e


def path_key(raw: bytes) -> str:
    """The key a path segment names: decoded once and validated (InvalidKey, KeyTooLong)."""
    return limits.validate_key(percent_decode(raw))


def raw_path(scope: MutableMapping[str, Any]) -> bytes:
    """The path as sent (percent-encoded, no query string), from an ASGI scope."""
    raw = scope.get("raw_path")
    if raw is None:
        return str(scope["path"]).encode()
    return bytes(raw).split(b"?", 1)[0]
