"""Validation and limits of the Workers KV contract, I/O-free, shared by every entry point.

Every function either returns the normalised value or raises the typed error whose message is
the one docs/contract.md quotes (section 1), so the Python API, the REST API, the workerd
protocol and the CLI refuse the same input with the same words.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from edgekv import errors
from edgekv.json_in import JSONTooDeep, parse_json
from edgekv.model import EntryWrite

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024  # 26,214,400
MAX_METADATA_BYTES = 1024
MIN_EXPIRATION_TTL = 60
MIN_CACHE_TTL = 30
DEFAULT_CACHE_TTL = 60
MAX_LIST_LIMIT = 1000
MAX_BULK_GET_KEYS = 100
MAX_BULK_WRITE_PAIRS = 10_000
MAX_BULK_BODY_BYTES = 100_000_000
MAX_BULK_GET_RESULT_BYTES = MAX_VALUE_BYTES
NAMESPACE_ID = re.compile(r"[0-9a-f]{32}")  # as Cloudflare's: 32 lowercase hex digits
MAX_NAMESPACE_TITLE = 512  # characters; Cloudflare's limit was not found (docs/contract.md, 7)
# Expirations every store and every client keeps exactly: JavaScript numbers (a Worker, the Redis
# store's Lua scripts) are exact up to 2^53 - 1; past it a time would be silently rounded.
MAX_EXPIRATION = 2**53 - 1
# A TTL bound that cannot carry an expiration past MAX_EXPIRATION for the next 140 million
# years, so that it is a constant a schema can state.
MAX_EXPIRATION_TTL = 2**52
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
_MAX_NUMBER_DIGITS = 40  # past this a number is out of every range here: never expanded
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_key(key: object) -> str:
    """A key is 1..512 bytes of UTF-8 and not `.` or `..`."""
    if type(key) is not str:
        if not isinstance(key, str):
            raise errors.InvalidKey(f"Key must be a string, not {type(key).__name__}.")
        key = str(key)
    n = len(key)
    if n == 0:
        raise errors.InvalidKey("Key name cannot be empty.")
    if n <= 2 and (key == "." or key == ".."):
        raise errors.InvalidKey(f'"{key}" is not allowed as a key name.')
    # A str of at most 128 code points is at most 512 bytes of UTF-8: skip the encode.
    if n > MAX_KEY_BYTES // 4:
        size = len(_utf8(key))
        if size > MAX_KEY_BYTES:
            raise errors.KeyTooLong(
                f"UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_BYTES}."
            )
    elif not key.isascii():
        _utf8(key)  # refuses lone surrogates
    return key


def validate_prefix(prefix: object) -> str:
    """A list prefix is matched literally and limited like a key."""
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise errors.InvalidKey(f"Prefix must be a string, not {type(prefix).__name__}.")
    size = len(_utf8(prefix))
    if size > MAX_KEY_BYTES:
        raise errors.KeyTooLong(
            f"UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_BYTES}."
        )
    return prefix


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as e:
        raise errors.InvalidKey("Key must be valid UTF-8 (no lone surrogates).") from e


def value_bytes(value: object) -> bytes:
    """Text is stored as UTF-8, bytes as they are; anything else is refused."""
    if isinstance(value, str):
        try:
            data = value.encode()
        except UnicodeEncodeError:
            data = _well_formed(value).encode()
    elif isinstance(value, bytes):
        data = value
    elif isinstance(value, bytearray | memoryview):
        data = bytes(value)
    else:
        raise errors.BadRequest(
            f"Value must be a string, bytes or a stream of bytes, not {type(value).__name__}."
        )
    check_value_size(len(data))
    return data


def _well_formed(text: str) -> str:
    """Lone surrogates become U+FFFD, as a Worker's TextEncoder does (pairs are joined)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def check_value_size(size: int) -> None:
    if size > MAX_VALUE_BYTES:
        raise errors.ValueTooLarge(f"Value length of {size} exceeds limit of {MAX_VALUE_BYTES}.")


def metadata_json(metadata: object) -> str | None:
    """Metadata is any JSON value serialising to at most 1024 bytes; None means no metadata."""
    if metadata is None:
        return None
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise errors.InvalidMetadata(
            f"Metadata must be serializable to JSON: {JSONTooDeep()}."
        ) from None
    except (TypeError, ValueError) as e:
        raise errors.InvalidMetadata(f"Metadata must be serializable to JSON: {e}.") from e
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            # A lone surrogate can only sit inside a JSON string: escape it as \uXXXX, as
            # JSON.stringify does, so the text is storable UTF-8 and means the same.
            text = text.encode("utf-8", "backslashreplace").decode()
    return check_metadata_json(text)


def check_metadata_json(text: str) -> str:
    """Metadata that arrives already serialised (REST, workerd): it must parse and fit."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_METADATA_BYTES:
        raise errors.MetadataTooLarge(
            f"Metadata length of {size} exceeds limit of {MAX_METADATA_BYTES}."
        )
    return text


def parse_metadata_json(text: str) -> str | None:
    """Metadata sent as a JSON document: refused unless it parses; stored compact."""
    try:
        parsed = parse_json(text)
    except JSONTooDeep as e:
        raise errors.InvalidMetadata(f"Metadata must be valid JSON: {e}.") from e
    except ValueError as e:
        raise errors.InvalidMetadata("Metadata must be valid JSON.") from e
    return metadata_json(parsed)


_HUGE = 1 << 256  # stands for any number too large to expand (`1e999999`): past every bound


def _as_int(value: object) -> int | None:
    """The integer a number or numeric string stands for, exactly, or None when it is not one.

    A float past 2^53 is not exact (it stands for many integers), so it is none; a string is
    read as a decimal, never through a float, so `"9007199254740993"` stays itself. A number
    of more than 40 digits is +-`_HUGE`, never expanded.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        return int(value) if abs(value) <= MAX_EXPIRATION else None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str):
        return None
    if _INTEGER_TEXT.fullmatch(value):
        digits = value.strip().lstrip("+-").lstrip("0")
        if len(digits) <= _MAX_NUMBER_DIGITS:
            return int(value)
        return -_HUGE if value.strip().startswith("-") else _HUGE
    try:
        number = decimal.Decimal(value.strip())
    except (decimal.InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    if number.adjusted() >= _MAX_NUMBER_DIGITS:
        return -_HUGE if number < 0 else _HUGE
    return int(number) if number == number.to_integral_value() else None


def plain_integer(text: str | bytes, maximum: int = 2**63 - 1) -> int | None:
    """The integer that ASCII decimal digits stand for when it is at most `maximum` (a count, a
    version, a sequence number), else None: `str.isdigit` also takes "²", `int` also takes
    "1_000" and " 1", and a store's integers end at 64 bits."""
    if not (0 < len(text) <= 20 and text.isascii() and text.isdigit()):
        return None
    n = int(text)
    return n if n <= maximum else None


def resolve_expiration(expiration: object, expiration_ttl: object, now: float) -> int | None:
    """Absolute expiry in epoch seconds from `expiration` or `expiration_ttl` (the TTL wins)."""
    # Whole seconds, as Workers KV counts them: a TTL of 60 and an expiration of now + 60
    # must agree even when the clock is between two seconds.
    now = int(now)
    if expiration_ttl is not None and expiration_ttl != "":
        ttl = _as_int(expiration_ttl)
        if ttl is None or ttl <= 0:
            raise errors.InvalidExpirationTtl(
                f"Invalid expiration_ttl of {_shown(expiration_ttl)}. "
                "Please specify integer greater than 0."
            )
        if ttl < MIN_EXPIRATION_TTL:
            raise errors.InvalidExpirationTtl(
                f"Invalid expiration_ttl of {_shown(expiration_ttl)}. "
                f"Expiration TTL must be at least {MIN_EXPIRATION_TTL}."
            )
        if ttl > MAX_EXPIRATION_TTL:
            raise errors.InvalidExpirationTtl(
                f"Invalid expiration_ttl of {_shown(expiration_ttl)}. "
                f"Expiration TTL must be at most {MAX_EXPIRATION_TTL}."
            )
        return now + ttl
    if expiration is not None and expiration != "":
        at = _as_int(expiration)
        if at is None or at <= now:
            raise _not_an_expiration(expiration)
        if at < now + MIN_EXPIRATION_TTL:
            raise errors.InvalidExpiration(
                f"Invalid expiration of {_shown(expiration)}. "
                f"Expiration times must be at least {MIN_EXPIRATION_TTL} seconds in the future."
            )
        if at > MAX_EXPIRATION:
            raise _expiration_too_late(expiration)
        return at
    return None


def stored_expiration(expiration: object) -> int:
    """An entry's expiry as a store keeps it (epoch seconds): what an export or a copy carries.
    Not a new write's, so the 60-second minimum does not apply; it must be a positive integer."""
    at = _as_int(expiration)
    if at is None or at <= 0:
        raise _not_an_expiration(expiration)
    if at > MAX_EXPIRATION:
        raise _expiration_too_late(expiration)
    return at


def _expiration_too_late(expiration: object) -> errors.InvalidExpiration:
    return errors.InvalidExpiration(
        f"Invalid expiration of {_shown(expiration)}. "
        f"Expiration times must be at most {MAX_EXPIRATION} seconds since the UNIX epoch."
    )


def _not_an_expiration(expiration: object) -> errors.InvalidExpiration:
    return errors.InvalidExpiration(
        f"Invalid expiration of {_shown(expiration)}. Please specify integer greater "
        "than the current number of seconds since the UNIX epoch."
    )


def validate_cache_ttl(cache_ttl: object) -> int:
    """Seconds an edge may serve a read from memory; default 60, at least 30."""
    if cache_ttl is None:
        return DEFAULT_CACHE_TTL
    ttl = _as_int(cache_ttl)
    if ttl is None or ttl < MIN_CACHE_TTL:
        raise errors.InvalidCacheTtl(
            f"Invalid cache_ttl of {_shown(cache_ttl)}. Cache TTL must be at least {MIN_CACHE_TTL}."
        )
    return ttl


def validate_list_limit(limit: object) -> int:
    """Keys per list page: 1..1000, default 1000 (docs/contract.md, section 7: not REST's 10)."""
    if limit is None or limit == "":
        return MAX_LIST_LIMIT
    n = _as_int(limit)
    if n is None or n < 1:
        raise errors.InvalidListLimit(
            f"Invalid key_count_limit of {_shown(limit)}. Please specify an integer greater than 0."
        )
    if n > MAX_LIST_LIMIT:
        raise errors.InvalidListLimit(
            f"Invalid key_count_limit of {_shown(limit)}. "
            f"Please specify an integer less than or equal to {MAX_LIST_LIMIT}."
        )
    return n


def validate_bulk_get_keys(keys: object) -> list[str]:
    if not isinstance(keys, list | tuple):
        raise errors.InvalidBulkRequest("Keys must be an array of strings.")
    if len(keys) > MAX_BULK_GET_KEYS:
        raise errors.InvalidBulkRequest(f"You can request a maximum of {MAX_BULK_GET_KEYS} keys")
    if not keys:
        raise errors.InvalidBulkRequest("You must request a minimum of 1 key")
    return [validate_key(k) for k in keys]


def validate_bulk_type(type_: object) -> str:
    if type_ is None:
        return "text"
    if type_ not in ("text", "json"):
        raise errors.InvalidType(f'"{type_}" is not a valid type. Use "json" or "text"')
    return str(type_)


def check_bulk_write_count(count: int) -> None:
    if count > MAX_BULK_WRITE_PAIRS:
        raise errors.InvalidBulkRequest(
            f"You can write a maximum of {MAX_BULK_WRITE_PAIRS} pairs in one bulk request; got {count}."
        )


def check_bulk_delete_count(count: int) -> None:
    if count > MAX_BULK_WRITE_PAIRS:
        raise errors.InvalidBulkRequest(
            f"You can delete a maximum of {MAX_BULK_WRITE_PAIRS} keys in one bulk request; got {count}."
        )


def decode_base64_value(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise errors.BadRequest("Value is not valid base64.") from e


# The cursor is opaque to callers: base64url of the last key returned, so a page continues
# after it even if keys are inserted or deleted between calls.


_MAX_CURSOR = -(-MAX_KEY_BYTES * 4 // 3)


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_cursor(cursor: object) -> str | None:
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise errors.InvalidCursor("Invalid cursor: it must be a string.")
    # The base64url of a key of at most 512 bytes is at most 683 characters.
    if len(cursor) > _MAX_CURSOR:
        raise errors.InvalidCursor(f"Invalid cursor: {_shown(cursor)!r}.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        last_key = raw.decode()
    except (binascii.Error, ValueError) as e:
        raise errors.InvalidCursor(f"Invalid cursor: {cursor!r}.") from e
    # The decoder skips characters outside the alphabet, so garbage could pass for a cursor
    # and silently restart the walk: only what encode_cursor writes is accepted.
    if not last_key or encode_cursor(last_key) != cursor or len(raw) > MAX_KEY_BYTES:
        raise errors.InvalidCursor(f"Invalid cursor: {cursor!r}.")
    return last_key


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix` (None: no bound).

    UTF-8 byte order is code point order, so bumping the last code point gives the bound.
    """
    chars = list(prefix)
    while chars:
        point = ord(chars[-1]) + 1
        if point == 0xD800:
            point = 0xE000  # surrogates have no UTF-8 form
        if point <= 0x10FFFF:
            chars[-1] = chr(point)
            return "".join(chars)
        chars.pop()
    return None


def _shown(value: Any) -> str:
    """A value in a message, as sent, cut short: a message never echoes a whole body."""
    text = value if isinstance(value, str) else _json_text(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _shown_json(value: Any) -> str:
    """A value in a message as JSON (`"no"` with its quotes), cut short."""
    text = _json_text(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def namespace_title(title: object) -> str:
    """A namespace title: printable text (no control characters), 1 to 512 characters, not
    only spaces (edgekv's rules: Cloudflare's were not found)."""
    if not isinstance(title, str) or not title.strip():
        raise errors.InvalidNamespaceTitle("A namespace title must be a non-empty string.")
    if len(title) > MAX_NAMESPACE_TITLE:
        raise errors.InvalidNamespaceTitle(
            f"A namespace title must be at most {MAX_NAMESPACE_TITLE} characters."
        )
    if _CONTROL.search(title):
        raise errors.InvalidNamespaceTitle(
            "A namespace title cannot contain control characters (U+0000 to U+001F, U+007F)."
        )
    try:
        title.encode()
    except UnicodeEncodeError:
        raise errors.InvalidNamespaceTitle(
            "A namespace title must be valid UTF-8 (no lone surrogates)."
        ) from None
    return title


def namespace_id(value: object) -> str:
    """A namespace id chosen by the caller: 32 lowercase hexadecimal digits, as Cloudflare's."""
    if not isinstance(value, str) or not NAMESPACE_ID.fullmatch(value):
        raise errors.InvalidNamespaceId(
            f"Invalid namespace id {_shown_id(value)}. A namespace id is 32 lowercase "
            "hexadecimal digits (0-9, a-f), as Cloudflare's are."
        )
    return value


def _shown_id(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def bulk_writes(items: Iterable[Mapping[str, Any]], now: float) -> list[EntryWrite]:
    """Validates a bulk write body (REST API and CLI share it) into store writes."""
    pairs = list(items)
    check_bulk_write_count(len(pairs))
    return [item_check(i, _bulk_write, pair, now) for i, pair in enumerate(pairs)]


def _bulk_write(pair: Mapping[str, Any], now: float) -> EntryWrite:
    if not isinstance(pair, Mapping):
        raise errors.InvalidBulkRequest("each pair must be an object with key and value")
    if "key" not in pair or "value" not in pair:
        raise errors.InvalidBulkRequest("each pair needs a key and a value")
    raw = pair["value"]
    if not isinstance(raw, str):
        raise errors.InvalidBulkRequest("value must be a string")
    encoded = pair.get("base64", False)
    if type(encoded) is not bool:
        raise errors.InvalidBulkRequest(
            f"base64 must be true or false, not {_shown_json(encoded)}."
        )
    # Text as a Worker's TextEncoder writes it: a lone surrogate (`"\ud800"`) becomes U+FFFD.
    data = decode_base64_value(raw) if encoded else value_bytes(raw)
    check_value_size(len(data))
    return EntryWrite(
        validate_key(pair["key"]),
        data,
        metadata_json(pair.get("metadata")),
        resolve_expiration(pair.get("expiration"), pair.get("expiration_ttl"), now),
        len(data),
    )


def item_check(index: int, check: Callable[..., Any], *args: Any) -> Any:
    try:
        return check(*args)
    except errors.KVError as e:
        e.message = f"item {index}: {e.message}"
        e.args = (e.message,)
        raise
