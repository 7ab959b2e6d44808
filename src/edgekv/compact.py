"""Compact JSON, as every wire format here writes it (envelopes, headers, records, feeds)."""

from __future__ import annotations

import json
from typing import Any


def compact_json(value: Any, *, ascii: bool = False) -> str:
    """JSON without spaces. `ascii=True` escapes non-ASCII as \\uXXXX: what travels in an HTTP
    header (latin-1) must."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii)
