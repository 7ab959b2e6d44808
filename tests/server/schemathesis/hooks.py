"""What schemathesis needs to know of edgekv beyond its /openapi.json.

JSON Schema cannot state four rules the server checks (docs/contract.md), so the schema names
them by a `format` (server/openapi.py) and these strategies generate them: a key or prefix
counts UTF-8 bytes, a cursor is one the server wrote, and a feed position is one the SQLite
store answers (decimal sequence numbers). Valid requests (the positive cases) are then made to
fit the server's state and clock, which no schema knows: a new namespace's title and id are
made unique, an expiration is put after the server's clock, metadata is kept within its 1024
bytes once serialised, a counter gets a key of its own (a key holding text is 400 to `incr`),
and a long poll waits a tenth of a second. Half the requests go to a namespace that exists
(EDGEKV_NAMESPACE_ID), so they reach past the namespace lookup.

Two kinds of case are left out, each for a rule of the contract the schema cannot carry:
a `json` bulk read is 400 when a stored value is not JSON (state, not the request), and an
invalid `expiration` beside an `expiration_ttl` is not checked (the TTL wins).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import schemathesis
from hypothesis import strategies as st

from edgekv import limits


def _fits_a_key(text: str) -> bool:
    return len(text.encode("utf-8", "surrogatepass")) <= limits.MAX_KEY_BYTES and text not in (
        ".",
        "..",
    )


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=limits.MAX_KEY_BYTES)
schemathesis.openapi.format("kv-key", _TEXT.filter(lambda t: t != "" and _fits_a_key(t)))
schemathesis.openapi.format("kv-prefix", _TEXT.filter(_fits_a_key))
schemathesis.openapi.format(
    "kv-cursor",
    _TEXT.filter(lambda t: t != "" and _fits_a_key(t)).map(limits.encode_cursor),
)
schemathesis.openapi.format("feed-position", st.integers(0, 10**6).map(str))


def _is_number(value: Any) -> bool:
    try:
        return float(value) == float(value)  # not NaN
    except (TypeError, ValueError):
        return False


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


def _later(value: Any) -> Any:
    """An expiration after the server's clock (a valid one from the schema may be in the past)."""
    soon = int(time.time()) + 3600
    if isinstance(value, int) and not isinstance(value, bool):
        return soon + value % 1000 if value < soon else value
    if isinstance(value, str) and value.isdigit() and int(value) < soon:
        return str(soon + int(value) % 1000)  # a query parameter, as text
    return value


def _small_metadata(value: Any) -> Any:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value if len(text.encode()) <= limits.MAX_METADATA_BYTES else {"shortened": True}


def _fit_pair(pair: Any) -> None:
    if not isinstance(pair, dict):
        return
    if "expiration" in pair:
        pair["expiration"] = _later(pair["expiration"])
    if "metadata" in pair:
        pair["metadata"] = _small_metadata(pair["metadata"])


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Fits each case to the server just before it is sent (every phase, every mode)."""
    params = case.path_parameters or {}
    op = case.operation.definition.raw.get("operationId")
    real = os.environ.get("EDGEKV_NAMESPACE_ID")
    # Half the requests (by the parity of their key's length) to the namespace that exists.
    even = len(str(params.get("key", ""))) % 2 == 0
    if real and "namespace_id" in params and op != "deleteNamespace" and even:
        params["namespace_id"] = real
    if op == "waitForChanges":
        # In every mode: a case made invalid elsewhere (an unknown parameter) still waits.
        if not isinstance(case.query, dict):
            case.query = {}
        seconds = case.query.get("seconds")
        if seconds in (None, "") or (_is_number(seconds) and float(seconds) > 0.1):
            case.query["seconds"] = 0.1
    if not _positive(case):
        return
    if op == "incr":
        params["key"] = f"counter-{uuid.uuid4().hex}"
    body = case.body
    query = case.query if isinstance(case.query, dict) else None
    if query is not None and "expiration" in query:
        query["expiration"] = _later(query["expiration"])
    if isinstance(body, dict):
        if op in ("createNamespace", "renameNamespace") and isinstance(body.get("title"), str):
            unique = f" #{uuid.uuid4().hex[:12]}"
            body["title"] = body["title"][: limits.MAX_NAMESPACE_TITLE - len(unique)] + unique
        if op == "createNamespace" and "id" in body:
            body["id"] = uuid.uuid4().hex
        if op == "incr" and "expiration" in body:
            body["expiration"] = _later(body["expiration"])
        if op == "putValue" and "metadata" in body:
            body["metadata"] = _small_metadata(body["metadata"])
    if isinstance(body, list) and op == "bulkPut":
        for pair in body:
            _fit_pair(pair)


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    op = case.operation.definition.raw.get("operationId")
    body = case.body
    if _positive(case) and op == "bulkGet" and isinstance(body, dict):
        return body.get("type") != "json"
    if not _positive(case):
        query = case.query if isinstance(case.query, dict) else {}
        if "expiration" in query and "expiration_ttl" in query:
            return False
        items = body if isinstance(body, list) else [body]
        if any(isinstance(i, dict) and "expiration" in i and "expiration_ttl" in i for i in items):
            return False
    return True
