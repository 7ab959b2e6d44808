"""The REST API v4 as a client speaks it, I/O-free: URLs, error envelopes back to edgekv's
exceptions, the edgekv extension headers, multipart bodies. Shared by `AsyncRestStore` and the
generated `RestStore`."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from edgekv import errors
from edgekv.compact import compact_json
from edgekv.model import EntryWrite, KeyInfo, StoredEntry
from edgekv.stores.capabilities import Capabilities
from edgekv.stores.deadlines import DEADLINE_OPTIONS

API_PATH = "/client/v4"
CLOUDFLARE_HOST = "api.cloudflare.com"

# What the HTTP store can do, by the server it talks to (an edgekv server, or Cloudflare).
EDGEKV_SERVER = Capabilities(
    group_commit=False,  # the bulk write's answer carries no versions
    change_feed=True,
    ordered_feed=False,  # as the server's central store orders it: not promised
    exclude_own=False,
    conditional_writes=True,
    incr=True,
    versions=True,
)
CLOUDFLARE = Capabilities(
    group_commit=False,
    change_feed=False,  # no /storage/kv/changes
    ordered_feed=False,
    exclude_own=False,
    conditional_writes=False,  # Cloudflare's API has no If-Match, If-None-Match
    incr=False,
    versions=False,  # no ETag
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


def api_base(url: str) -> str:
    """`http://host:port` (an edgekv server) gains `/client/v4`; a URL ending in it is kept."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise errors.BadRequest(f"not an HTTP URL: {url!r}")
    base = url.rstrip("/")
    return base if parts.path.rstrip("/").endswith(API_PATH) else base + API_PATH


def deadline_options(url: str) -> tuple[str, dict[str, str]]:
    """The URL without the deadline options every store URL may carry (`timeout`,
    `connect_timeout`: edgekv.stores.deadlines), and those options."""
    parts = urlsplit(url)
    if not parts.query:
        return url, {}
    ours, theirs = {}, []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in DEADLINE_OPTIONS:
            ours[name] = value
        else:
            theirs.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(theirs))), ours


def is_cloudflare(url: str) -> bool:
    """Whether a store URL is Cloudflare's own API (`https://api.cloudflare.com/client/v4`)."""
    return (urlsplit(url).hostname or "").lower() == CLOUDFLARE_HOST


def segment(text: str) -> str:
    """One path segment: every reserved character percent-encoded (`a/b c` -> `a%2Fb%20c`)."""
    return quote(text, safe="")


def _all_errors() -> dict[int, type[errors.KVError]]:
    found: dict[int, type[errors.KVError]] = {}
    pending: list[type[errors.KVError]] = [errors.KVError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ == errors.__name__:
            found.setdefault(cls.code, cls)
    found[errors.NotFound.code] = errors.KeyNotFound
    return found


_BY_CODE = _all_errors()
_BY_STATUS: dict[int, type[errors.KVError]] = {
    400: errors.BadRequest,
    404: errors.NotFound,
    412: errors.PreconditionFailed,
    413: errors.BadRequest,
    414: errors.BadRequest,
    503: errors.StoreUnavailable,
}
_REMOTE: dict[tuple[type[errors.KVError], int, int], type[errors.KVError]] = {}


def _remote_class(base: type[errors.KVError], status: int, code: int) -> type[errors.KVError]:
    """`base` carrying the status and code the server sent (a class per triple, cached)."""
    if base.status == status and base.code == code:
        return base
    key = (base, status, code)
    if key not in _REMOTE:
        _REMOTE[key] = type(base.__name__, (base,), {"status": status, "code": code})
    return _REMOTE[key]


def error_from(status: int, body: bytes) -> errors.KVError:
    """The exception an in-process call would have raised for this failed answer."""
    code, message = 0, ""
    try:
        envelope = json.loads(body)
        first = envelope["errors"][0]
        code, message = int(first["code"]), str(first["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        message = body.decode("utf-8", "replace")[:500] or f"HTTP {status}"
    base = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if base is None:
        base = errors.BadRequest if 400 <= status < 500 else errors.KVError
    return _remote_class(base, status, code or base.code)(message)


def upstream_timed_out(status: int, body: bytes) -> bool:
    """Whether a failed answer says the server's own central store did not answer in time
    (503, `central store unavailable: timed out`): not tried again, as the server has waited its
    deadline already (edge -> relay -> store would otherwise wait four deadlines, not one)."""
    if status != 503 or b"timed out" not in body:
        return False
    error = error_from(status, body)
    return isinstance(error, errors.StoreUnavailable) and error.message.endswith("timed out")


def retry_delay(attempt: int, backoff: float, retry_after: str | None) -> float:
    """Exponential backoff with jitter, or the server's Retry-After when it gives one."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return float(backoff * (2**attempt) * (0.5 + secrets.randbelow(1000) / 1000))


def retry_wait(
    attempt: int,
    retries: int,
    backoff: float,
    *,
    idempotent: bool,
    status: int | None,
    retry_after: str | None = None,
) -> float | None:
    """Seconds to wait before the next attempt of a call that failed (`status` None: the
    connection failed), or None not to try again: 429 is retried always, 5xx and failed
    connections only for a call safe to repeat, `retries` times at most."""
    if attempt >= retries:
        return None
    if status is None:
        again = idempotent
    else:
        again = status == 429 or (idempotent and status in RETRY_STATUSES)
    return retry_delay(attempt, backoff, retry_after) if again else None


def entry_from_headers(headers: Mapping[str, str]) -> tuple[StoredEntry, bool]:
    """The entry a value answer describes (its value empty), and whether the server sent
    edgekv's extension headers (an ETag); Cloudflare's API sends no metadata or version."""
    etag = headers.get("etag")
    version = 0
    if etag is not None:
        text = etag.strip().removeprefix("W/").strip('"')
        version = int(text) if text.isdigit() else 0
    expiration = headers.get("expiration")
    metadata = headers.get("cf-kv-metadata")
    if metadata is not None:
        metadata = compact_json(json.loads(metadata))
    written = headers.get("x-edgekv-written-at")
    return (
        StoredEntry(
            b"",
            metadata,
            int(float(expiration)) if expiration else None,
            version,
            _cache_status(headers.get("cf-cache-status")),
            int(written) if written and written.isdigit() else None,
        ),
        etag is not None,
    )


def _cache_status(text: str | None) -> Any:
    return text if text in ("HIT", "MISS", "EXPIRED", "STALE", "BYPASS") else None


def entry_from_bulk(item: Any) -> StoredEntry | None:
    """One value of edgekv's `bulk/get` with type arrayBuffer and withMetadata."""
    if item is None:
        return None
    metadata = item.get("metadata")
    return StoredEntry(
        base64.b64decode(item["value"]),
        None if metadata is None else compact_json(metadata),
        item.get("expiration"),
        int(item.get("version") or 0),
        None,
        item.get("written_at"),
    )


def key_info(item: Mapping[str, Any]) -> KeyInfo:
    """One key of a list answer; `size` and `written_at` where the server sends them (edgekv)."""
    expiration = item.get("expiration")
    metadata = item.get("metadata")
    size = item.get("size")
    written = item.get("written_at")
    return KeyInfo(
        str(item["name"]),
        None if expiration is None else int(expiration),
        None if metadata is None else compact_json(metadata),
        None if size is None else int(size),
        None if written is None else int(written),
    )


def bulk_item(write: EntryWrite, value: bytes) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": write.key,
        "value": base64.b64encode(value).decode(),
        "base64": True,
    }
    if write.expiration is not None:
        item["expiration"] = write.expiration
    if write.metadata_json is not None:
        item["metadata"] = json.loads(write.metadata_json)
    return item


def multipart(metadata_json: str) -> tuple[str, bytes, bytes]:
    """Content type, the bytes before the value and after it, for a value with metadata."""
    boundary = secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="metadata"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{metadata_json}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="value"; filename="value"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", head, tail
