"""The JSON Lines an export (and a backup) is made of, I/O-free.

One key per line, a `bulk put` item so that `kv bulk put`'s check reads it:
`{"key": "k", "value": "text", "metadata": {...}, "expiration": 1767225600}`, with
`"value"` in base64 and `"base64": true` when the value is not UTF-8. `metadata` and
`expiration` are left out when the key has none.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from edgekv.transfer.entries import Entry


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def entry_line(entry: Entry, head: dict[str, Any] | None = None) -> bytes:
    """One line (with its newline) for an entry; `head` adds fields in front (a backup's `ns`)."""
    parts = [f"{_text(k)}:{json.dumps(v)}" for k, v in (head or {}).items()]
    parts.append(f'"key":{_text(entry.key)}')
    try:
        parts.append(f'"value":{_text(entry.value.decode())}')
    except UnicodeDecodeError:
        parts.append(f'"value":"{base64.b64encode(entry.value).decode()}","base64":true')
    if entry.metadata_json is not None:
        parts.append(f'"metadata":{entry.metadata_json}')  # stored JSON text, spliced as it is
    if entry.expiration is not None:
        parts.append(f'"expiration":{entry.expiration}')
    return ("{" + ",".join(parts) + "}\n").encode("utf-8", "surrogatepass")
