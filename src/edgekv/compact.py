"""Compact JSON, as every wire format here writes it (envelopes, headers, records, feeds)."""

from __future__ import annotations

import json
from typing import Any


def compact_json(value: Any, *, ascii: bool = False) -> str:
    """JSON without spaces. `ascii=True` escapes non-ASCII as \\uXXXX: what travels in an HTTP
    header (latin-1) must."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii)


def json_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8. Metadata may hold a lone surrogate (kept as a `\\uXXXX` escape,
    docs/contract.md, section 7), which UTF-8 cannot carry: then the document is written with
    ASCII escapes, as JavaScript's JSON.stringify writes that string."""
    try:
        return compact_json(value).encode()
    except UnicodeEncodeError:
        return compact_json(value, ascii=True).encode()
