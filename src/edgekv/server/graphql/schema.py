"""The schema of Cloudflare's GraphQL Analytics API, as far as Workers KV's datasets go.

Type, field, argument and enum names are Cloudflare's (its schema is introspectable at
api.cloudflare.com/client/v4/graphql; docs/analytics.md lists the sources): `viewer { accounts(
filter: {accountTag}) { kvOperationsAdaptiveGroups(filter, limit, orderBy) { sum { requests
objectBytes } dimensions { ... } } kvStorageAdaptiveGroups(...) { max { byteCount keyCount }
dimensions { ... } } } }`, with Cloudflare's scalars (`string`, `Date`, `Time`, `uint64`).
What edgekv does not record (latency quantiles, sub-hour time buckets) is left out rather than
answered with made-up figures: introspection shows exactly what is there.

Built from SDL with graphql-core (the reference implementation's Python port): the schema is
declared once, in Cloudflare's own notation, and graphql-core parses, validates and executes
queries against it, introspection included; the resolvers (datasets.py) are plain functions.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
    ValueNode,
    build_schema,
)

OPERATION_DIMENSIONS = ("actionType", "date", "datetime", "datetimeHour", "namespaceId")
STORAGE_DIMENSIONS = ("date", "datetime", "datetimeHour", "namespaceId")
OPERATION_SUMS = ("objectBytes", "requests")
STORAGE_MAXIMA = ("byteCount", "keyCount")
MAX_LIMIT = 10_000


def _comparisons(field: str, kind: str) -> str:
    ops = ["", "_neq", "_gt", "_geq", "_lt", "_leq"]
    lines = [f"  {field}{op}: {kind}" for op in ops]
    lines += [f"  {field}_in: [{kind}!]", f"  {field}_notin: [{kind}!]"]
    return "\n".join(lines)


def _filter(name: str, fields: dict[str, str]) -> str:
    body = "\n".join(_comparisons(f, k) for f, k in fields.items())
    return f"input {name} {{\n  AND: [{name}!]\n  OR: [{name}!]\n{body}\n}}\n"


def _order(name: str, fields: list[str]) -> str:
    values = "\n".join(f"  {f}_{d}" for f in fields for d in ("ASC", "DESC"))
    return f"enum {name} {{\n{values}\n}}\n"


_TIMES = {"date": "Date", "datetime": "Time", "datetimeHour": "Time"}
_OPS_FILTER = {"actionType": "string", **_TIMES, "namespaceId": "string"}
_STORAGE_FILTER = {**_TIMES, "namespaceId": "string"}

SDL = (
    '''
"""A string (Cloudflare's scalar)."""
scalar string
"""A date, YYYY-MM-DD (UTC)."""
scalar Date
"""A time, RFC 3339 (UTC), e.g. 2026-12-03T10:00:00Z."""
scalar Time
"""An unsigned 64-bit integer."""
scalar uint64

type Query {
  viewer: viewer
}

type viewer {
  accounts(filter: AccountFilter_InputObject!): [account!]!
}

input AccountFilter_InputObject {
  accountTag: string
}

type account {
  """Operations on Workers KV namespaces, summed per group of the dimensions selected."""
  kvOperationsAdaptiveGroups(
    filter: AccountKvOperationsAdaptiveGroupsFilter_InputObject
    limit: uint64
    orderBy: [AccountKvOperationsAdaptiveGroupsOrderBy!]
  ): [AccountKvOperationsAdaptiveGroups!]
  """Keys and bytes stored in Workers KV namespaces, the maximum per group."""
  kvStorageAdaptiveGroups(
    filter: AccountKvStorageAdaptiveGroupsFilter_InputObject
    limit: uint64
    orderBy: [AccountKvStorageAdaptiveGroupsOrderBy!]
  ): [AccountKvStorageAdaptiveGroups!]
}

type AccountKvOperationsAdaptiveGroups {
  dimensions: AccountKvOperationsAdaptiveGroupsDimensions
  sum: AccountKvOperationsAdaptiveGroupsSum
}

type AccountKvOperationsAdaptiveGroupsDimensions {
  """read, write, delete or list"""
  actionType: string!
  date: Date!
  datetime: Time!
  datetimeHour: Time!
  namespaceId: string!
}

type AccountKvOperationsAdaptiveGroupsSum {
  """Bytes of the values read or written"""
  objectBytes: uint64!
  """Operations, each key of a bulk read, write or delete counted"""
  requests: uint64!
}

type AccountKvStorageAdaptiveGroups {
  dimensions: AccountKvStorageAdaptiveGroupsDimensions
  max: AccountKvStorageAdaptiveGroupsMax
}

type AccountKvStorageAdaptiveGroupsDimensions {
  date: Date!
  datetime: Time!
  datetimeHour: Time!
  namespaceId: string!
}

type AccountKvStorageAdaptiveGroupsMax {
  byteCount: uint64!
  keyCount: uint64!
}
'''
    + _filter("AccountKvOperationsAdaptiveGroupsFilter_InputObject", _OPS_FILTER)
    + _filter("AccountKvStorageAdaptiveGroupsFilter_InputObject", _STORAGE_FILTER)
    + _order(
        "AccountKvOperationsAdaptiveGroupsOrderBy",
        [*OPERATION_DIMENSIONS, *(f"sum_{s}" for s in OPERATION_SUMS)],
    )
    + _order(
        "AccountKvStorageAdaptiveGroupsOrderBy",
        [*STORAGE_DIMENSIONS, *(f"max_{m}" for m in STORAGE_MAXIMA)],
    )
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise GraphQLError(f"cannot parse {value!r} as Date: expected YYYY-MM-DD")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise GraphQLError(f"cannot parse {value!r} as Date: no such day") from None
    return value


def parse_time(value: Any) -> str:
    """An RFC 3339 time, normalized to UTC `YYYY-MM-DDTHH:MM:SSZ` (so times compare as text)."""
    if not isinstance(value, str) or "T" not in value:
        raise GraphQLError(f"cannot parse {value!r} as Time: expected RFC 3339")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"cannot parse {value!r} as Time: expected RFC 3339") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_uint64(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise GraphQLError(f"cannot parse {value!r} as uint64")
    return value


def _literal(parse: Any, node_type: type) -> Any:
    def parse_literal(node: ValueNode, _variables: Any = None) -> Any:
        if not isinstance(node, node_type):
            raise GraphQLError(f"expected a {'number' if node_type is IntValueNode else 'string'}")
        value = node.value  # type: ignore[attr-defined]
        return parse(int(value) if node_type is IntValueNode else value)

    return parse_literal


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError(f"cannot parse {value!r} as string")
    return value


def _same(value: Any) -> Any:
    return value


def schema() -> GraphQLSchema:
    built = build_schema(SDL)
    scalars = {
        "string": (_string, StringValueNode),
        "Date": (parse_date, StringValueNode),
        "Time": (parse_time, StringValueNode),
        "uint64": (parse_uint64, IntValueNode),
    }
    for name, (parse, node_type) in scalars.items():
        scalar = built.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)
        scalar.parse_value = parse  # type: ignore[method-assign]
        scalar.parse_literal = _literal(parse, node_type)  # type: ignore[method-assign]
        scalar.serialize = _same  # type: ignore[method-assign]
    return built


SCHEMA = schema()
