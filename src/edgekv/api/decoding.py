"""How the binding turns stored bytes into what a caller asked for: I/O-free, shared by the
async and sync shells and by the server's bulk reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from edgekv import errors, limits
from edgekv.json_in import JSONTooDeep, parse_json
from edgekv.model import StoredEntry, ValueWithMetadata

Consistency = Literal["eventual", "strong"]


def read_ttl(cache_ttl: int | None, consistency: Consistency) -> int | None:
    # A strong read is a read that no cache may answer: a cache_ttl of 0.
    if consistency == "strong":
        return 0
    return None if cache_ttl is None else limits.validate_cache_ttl(cache_ttl)


def _decode_text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _decode_json(value: bytes) -> Any:
    try:
        return parse_json(value)
    except JSONTooDeep as e:
        raise errors.NotJSON(f"A requested value is {e}.") from e
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
        entry.written_at,
    )


def unknown_type(type: object) -> errors.InvalidType:
    return errors.InvalidType(
        f'Unknown response type "{type}". Possible types are "text", "arrayBuffer", "bytes", '
        '"json", and "stream".'
    )
