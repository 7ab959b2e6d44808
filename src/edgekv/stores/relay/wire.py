"""The relay protocol, I/O-free: how an edge and its relay say the Store protocol over HTTP.

An edge that takes its data from a relay (`--store relay://:SECRET@host:port`) calls the
relay's store — every account's namespaces, the token records of the system namespace
included — so the protocol is the Store protocol itself, not the account-scoped REST API:

- `GET  /relay/v1/values/{namespace}?key=KEY&cache_ttl=N` -> the value's bytes (streamed when
  large), its entry in `X-EdgeKV-Version`, `X-EdgeKV-Expiration`, `X-EdgeKV-Metadata` and
  `CF-Cache-Status`; a missing key is the error envelope of KeyNotFound (404).
- `PUT  /relay/v1/values/{namespace}?key=KEY&expiration=E&if_version=V&only_if_absent=1` with the
  value as the body (and `X-EdgeKV-Metadata`) -> `{"result": {"version": V}}`.
- `POST /relay/v1/call/{method}` with the method's arguments as JSON -> `{"result": ...}`, for
  every other call (bulk reads and writes, deletes, counters, lists, namespaces, the feed's
  position).
- `GET  /relay/v1/changes?position=P&limit=N&wait=S` -> `{"result": {"changes": [[seq,
  namespace, key, at], ...], "position", "behind"}}`: the relay's change log (a long poll:
  answered as soon as there is a change after P, or after S seconds with none); with
  `stream=S` instead, one such page per line as the log grows, for S seconds (stream.py).

Keys travel as a query parameter (any character a key may hold survives form encoding; a
path would lose newlines to the router); values as raw bytes (base64 inside JSON bulk calls);
errors as Cloudflare envelopes, read back into the same KVError classes as the HTTP store's
(`edgekv.stores.http.wire.error_from`). Every request carries `Authorization: Bearer SECRET`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from edgekv.model import Change, EntryWrite, KeyInfo, KeyPage, NamespaceInfo, StoredEntry

PREFIX = "/relay/v1"
VERSION = "x-edgekv-version"
EXPIRATION = "x-edgekv-expiration"
METADATA = "x-edgekv-metadata"
CACHE_STATUS = "cf-cache-status"
WRITTEN_AT = "x-edgekv-written-at"
MAX_WAIT = 30.0  # seconds a long poll of the change log may last
MAX_PAGE = 1000  # changes per page
# The calls that write: the relay's log holds what they wrote before the writer's next look.
WRITE_CALLS = frozenset(
    {"put_many", "delete_many", "incr", "create_namespace", "rename_namespace", "delete_namespace"}
)


def entry_headers(entry: StoredEntry) -> dict[str, str]:
    headers = {VERSION: str(entry.version)}
    if entry.expiration is not None:
        headers[EXPIRATION] = str(entry.expiration)
    headers.update(metadata_header(entry.metadata_json))
    if entry.cache_status is not None:
        headers[CACHE_STATUS] = entry.cache_status
    if entry.written_at is not None:
        headers[WRITTEN_AT] = str(entry.written_at)
    return headers


def entry_from_headers(headers: Mapping[str, str], value: bytes = b"") -> StoredEntry:
    expiration = headers.get(EXPIRATION)
    status = headers.get(CACHE_STATUS)
    written = headers.get(WRITTEN_AT)
    return StoredEntry(
        value,
        metadata_from(headers),
        None if expiration is None else int(expiration),
        int(headers.get(VERSION, "0")),
        status if status in ("HIT", "MISS", "EXPIRED", "STALE", "BYPASS") else None,  # type: ignore[arg-type]
        None if written is None else int(written),
    )


def metadata_header(metadata_json: str | None) -> dict[str, str]:
    """The metadata's JSON text exactly as stored, percent-encoded to fit a header."""
    if metadata_json is None:
        return {}
    return {METADATA: quote(metadata_json, safe="", errors="surrogatepass")}


def metadata_from(headers: Mapping[str, str]) -> str | None:
    text = headers.get(METADATA)
    return None if text is None else unquote(text, errors="surrogatepass")


# JSON shapes of the calls


def entry_json(entry: StoredEntry | None) -> Any:
    if entry is None:
        return None
    return {
        "value": base64.b64encode(entry.value).decode(),
        "metadata": entry.metadata_json,
        "expiration": entry.expiration,
        "version": entry.version,
        "cache_status": entry.cache_status,
        "written_at": entry.written_at,
    }


def entry_from_json(item: Any) -> StoredEntry | None:
    if item is None:
        return None
    return StoredEntry(
        base64.b64decode(item["value"]),
        item["metadata"],
        item["expiration"],
        int(item["version"]),
        item.get("cache_status"),
        item.get("written_at"),
    )


def write_json(write: EntryWrite, value: bytes) -> dict[str, Any]:
    return {
        "key": write.key,
        "value": base64.b64encode(value).decode(),
        "metadata": write.metadata_json,
        "expiration": write.expiration,
    }


def write_from_json(item: Any) -> EntryWrite:
    value = base64.b64decode(item["value"])
    return EntryWrite(str(item["key"]), value, item["metadata"], item["expiration"], len(value))


def namespace_json(info: NamespaceInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "account_id": info.account_id,
        "supports_url_encoding": info.supports_url_encoding,
    }


def namespace_from_json(item: Any) -> NamespaceInfo:
    return NamespaceInfo(
        str(item["id"]),
        str(item["title"]),
        str(item["account_id"]),
        bool(item["supports_url_encoding"]),
    )


def key_page_json(page: KeyPage) -> dict[str, Any]:
    return {
        "keys": [[k.name, k.expiration, k.metadata_json, k.size, k.written_at] for k in page.keys],
        "complete": page.complete,
    }


def key_page_from_json(item: Any) -> KeyPage:
    return KeyPage([KeyInfo(*k) for k in item["keys"]], bool(item["complete"]))


def change_json(change: Change) -> list[Any]:
    return [change.seq, change.namespace_id, change.key, change.at]


def change_from_json(item: Any) -> Change:
    seq, namespace_id, key, at = item
    return Change(int(seq), str(namespace_id), key, float(at))
