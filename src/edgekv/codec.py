"""How the binding turns stored bytes into what a caller asked for, and bulk writes into store
writes: I/O-free, shared by the async and sync shells and by the server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from edgekv import errors, limits
from edgekv.model import EntryWrite, StoredEntry, ValueWithMetadata

Consistency = Literal["eventual", "strong"]
_NAMESPACE_ID = re.compile(r"[0-9a-f]{32}")


def read_ttl(cache_ttl: int | None, consistency: Consistency) -> int | None:
    # A strong read is a read that no cache may answer: a cache_ttl of 0.
    if consistency == "strong":
        return 0
    return None if cache_ttl is None else limits.validate_cache_ttl(cache_ttl)


def _decode_text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _decode_json(value: bytes) -> Any:
    try:
        return json.loads(value)
    except ValueError as e:
        # The contract's 400, not a bare JSONDecodeError that a server would answer with 500.
        raise errors.NotJSON() from e


def _decode_bytes(value: bytes) -> bytes:
    return value


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "text": _decode_text,
    "json": _decode_json,
    "bytes": _decode_bytes,
    "arrayBuffer": _decode_bytes,
}


def decode(value: bytes, type: str) -> Any:
    return DECODERS[type](value)


def with_metadata(entry: StoredEntry, type: str) -> ValueWithMetadata:
    return ValueWithMetadata(
        decode(entry.value, type),
        entry.metadata,
        entry.cache_status,
        entry.version,
        entry.expiration,
    )


def unknown_type(type: object) -> errors.InvalidType:
    return errors.InvalidType(
        f'Unknown response type "{type}". Possible types are "text", "arrayBuffer", "bytes", '
        '"json", and "stream".'
    )


def namespace_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise errors.InvalidNamespaceTitle("A namespace title must be a non-empty string.")
    if len(title) > 512:
        raise errors.InvalidNamespaceTitle("A namespace title must be at most 512 characters.")
    return title


def namespace_id(value: object) -> str:
    """A namespace id chosen by the caller: 32 lowercase hexadecimal digits, as Cloudflare's."""
    if not isinstance(value, str) or not _NAMESPACE_ID.fullmatch(value):
        raise errors.InvalidNamespaceId(
            f"Invalid namespace id {_shown_id(value)}. A namespace id is 32 lowercase "
            "hexadecimal digits (0-9, a-f), as Cloudflare's are."
        )
    return value


def namespace_id_taken(namespace_id: str, *, deleted: bool = False) -> errors.NamespaceIdTaken:
    if deleted:
        return errors.NamespaceIdTaken(
            f"The namespace id {namespace_id} belonged to a deleted namespace and cannot be "
            "reused while the store remembers the deletion."
        )
    return errors.NamespaceIdTaken(f"A namespace with the id {namespace_id} already exists.")


def _shown_id(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def bulk_writes(items: Iterable[Mapping[str, Any]], now: float) -> list[EntryWrite]:
    """Validates a bulk write body (REST API and CLI share it) into store writes."""
    pairs = list(items)
    limits.check_bulk_write_count(len(pairs))
    return [item_check(i, _bulk_write, pair, now) for i, pair in enumerate(pairs)]


def _bulk_write(pair: Mapping[str, Any], now: float) -> EntryWrite:
    if not isinstance(pair, Mapping):
        raise errors.InvalidBulkRequest("each pair must be an object with key and value")
    if "key" not in pair or "value" not in pair:
        raise errors.InvalidBulkRequest("each pair needs a key and a value")
    raw = pair["value"]
    if not isinstance(raw, str):
        raise errors.InvalidBulkRequest("value must be a string")
    data = limits.decode_base64_value(raw) if pair.get("base64") else raw.encode()
    limits.check_value_size(len(data))
    return EntryWrite(
        limits.validate_key(pair["key"]),
        data,
        limits.metadata_json(pair.get("metadata")),
        limits.resolve_expiration(pair.get("expiration"), pair.get("expiration_ttl"), now),
        len(data),
    )


def item_check(index: int, check: Callable[..., Any], *args: Any) -> Any:
    try:
        return check(*args)
    except errors.KVError as e:
        e.message = f"item {index}: {e.message}"
        e.args = (e.message,)
        raise
