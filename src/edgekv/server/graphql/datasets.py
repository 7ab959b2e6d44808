"""The resolvers of kvOperationsAdaptiveGroups and kvStorageAdaptiveGroups over the usage log.

A dataset is a list of rows, one per namespace and hour (and action, for operations), every
server's counts merged (analytics/log.py). A query's `filter` keeps rows (the operators
Cloudflare's filters have: `x`, `x_neq`, `x_gt`, `x_geq`, `x_lt`, `x_leq`, `x_in`, `x_notin`,
and nested `AND`/`OR`); the dimensions it selects group them, as Cloudflare's datasets do
(`sum` adds up, `max` takes the largest); `orderBy` sorts the groups and `limit` keeps the
first ones. Time dimensions have the hour as their finest grain: `datetime` is the hour's start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from edgekv.analytics.counting import HOUR
from edgekv.analytics.log import RETENTION_HOURS, UsageLog
from edgekv.server.auth import Principal
from edgekv.server.graphql.schema import (
    MAX_LIMIT,
    OPERATION_DIMENSIONS,
    OPERATION_SUMS,
    STORAGE_DIMENSIONS,
    STORAGE_MAXIMA,
)

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Context:
    """What a query runs with: the usage log and who asks."""

    log: UsageLog
    principal: Principal


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str


def resolve_viewer(_root: Any, _info: GraphQLResolveInfo) -> dict[str, Any]:
    return {}


def resolve_accounts(
    _viewer: Any, info: GraphQLResolveInfo, filter: dict[str, Any]
) -> list[Account]:
    tag = filter.get("accountTag")
    if not tag:
        raise GraphQLError("accounts: filter must name an accountTag")
    context: Context = info.context
    if not context.principal.sees_account(tag):
        raise GraphQLError("not authorized for that account", extensions={"code": "authz"})
    return [Account(tag)]


def _time(hour: int) -> str:
    return dt.datetime.fromtimestamp(hour * HOUR, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(hour: int) -> str:
    return _time(hour)[:10]


def _base(account_id: str, namespace_id: str, hour: int) -> Row:
    at = _time(hour)
    return {
        "accountTag": account_id,
        "namespaceId": namespace_id,
        "date": at[:10],
        "datetime": at,
        "datetimeHour": at,
    }


async def resolve_operations(
    account: Account,
    info: GraphQLResolveInfo,
    filter: dict[str, Any] | None = None,
    limit: int | None = None,
    orderBy: list[str] | None = None,
) -> list[dict[str, Any]]:
    context: Context = info.context
    first, last = _hours(filter, context.log)
    rows = []
    for o in await context.log.operations(first, last):
        if o.account_id != account.account_id or not _visible(context, o.namespace_id):
            continue
        row = _base(o.account_id, o.namespace_id, o.hour)
        row.update(actionType=o.action, requests=o.requests, objectBytes=o.bytes)
        rows.append(row)
    return _groups(
        rows, filter, limit, orderBy, info, OPERATION_DIMENSIONS, "sum", OPERATION_SUMS, _add
    )


async def resolve_storage(
    account: Account,
    info: GraphQLResolveInfo,
    filter: dict[str, Any] | None = None,
    limit: int | None = None,
    orderBy: list[str] | None = None,
) -> list[dict[str, Any]]:
    context: Context = info.context
    first, last = _hours(filter, context.log)
    rows = []
    for s in await context.log.storage(first, last):
        if s.account_id != account.account_id or not _visible(context, s.namespace_id):
            continue
        row = _base(s.account_id, s.namespace_id, s.hour)
        row.update(byteCount=s.bytes, keyCount=s.keys)
        rows.append(row)
    return _groups(
        rows, filter, limit, orderBy, info, STORAGE_DIMENSIONS, "max", STORAGE_MAXIMA, max
    )


def _visible(context: Context, namespace_id: str) -> bool:
    token = context.principal.token
    return token is None or not token.namespaces or namespace_id in token.namespaces


def _add(a: int, b: int) -> int:
    return a + b


def _groups(
    rows: list[Row],
    filter: dict[str, Any] | None,
    limit: int | None,
    order_by: Sequence[str] | None,
    info: GraphQLResolveInfo,
    dimensions: Sequence[str],
    block: str,
    metrics: Sequence[str],
    combine: Callable[[int, int], int],
) -> list[dict[str, Any]]:
    if limit is not None and limit > MAX_LIMIT:
        raise GraphQLError(f"limit must not exceed {MAX_LIMIT}")
    kept = [r for r in rows if filter is None or _matches(r, filter)]
    chosen = [d for d in dimensions if d in _selected(info, "dimensions")]
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in kept:
        key = tuple(row[d] for d in chosen)
        group = grouped.get(key)
        if group is None:
            grouped[key] = {
                "dimensions": {d: row[d] for d in chosen},
                block: {m: row[m] for m in metrics},
            }
        else:
            for m in metrics:
                group[block][m] = combine(group[block][m], row[m])
    groups = list(grouped.values())
    groups.sort(key=lambda g: tuple(g["dimensions"].values()))
    for order in reversed(order_by or []):  # stable sorts: the first order decides last
        name, _, direction = order.rpartition("_")
        where, _, field = name.partition("_") if name.startswith(block + "_") else ("", "", name)
        if not where and field not in chosen:
            raise GraphQLError(f"cannot order by {field}: it is not among the dimensions queried")

        def value(g: dict[str, Any], w: str = where, f: str = field) -> Any:
            return g[w][f] if w else g["dimensions"][f]

        groups.sort(key=value, reverse=direction == "DESC")
    return groups[: MAX_LIMIT if limit is None else limit]


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "geq": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "leq": lambda a, b: a <= b,
    "in": lambda a, b: a in b,
    "notin": lambda a, b: a not in b,
}


def _matches(row: Row, filter: dict[str, Any]) -> bool:
    for name, wanted in filter.items():
        if wanted is None:
            continue
        if name == "AND":
            if not all(_matches(row, f) for f in wanted):
                return False
            continue
        if name == "OR":
            if wanted and not any(_matches(row, f) for f in wanted):
                return False
            continue
        field, _, op = name.partition("_")
        if not _OPERATORS[op](row[field], wanted):
            return False
    return True


def _hours(filter: dict[str, Any] | None, log: UsageLog) -> tuple[int, int]:
    """The hours a filter's top-level time bounds allow (the log is read for those only)."""
    now = int(log.clock() // HOUR)
    first, last = now - RETENTION_HOURS, now
    for name, value in (filter or {}).items():
        if value is None or name in ("AND", "OR"):
            continue
        field, _, op = name.partition("_")
        if field not in ("date", "datetime", "datetimeHour") or op not in (
            "",
            "geq",
            "gt",
            "leq",
            "lt",
        ):
            continue
        text = value if field != "date" else value + "T00:00:00Z"
        hour = int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) // HOUR
        span = 24 if field == "date" else 1
        if op in ("", "geq", "gt"):
            first = max(first, hour)
        if op in ("", "leq", "lt"):
            last = min(last, hour + span - 1)
    return first, last


def _selected(info: GraphQLResolveInfo, block: str) -> set[str]:
    """The fields selected under `block` (e.g. dimensions) of this field, through fragments."""
    names: set[str] = set()
    for node in info.field_nodes:
        for inner in _fields(info, node.selection_set):
            if inner.name.value == block:
                names.update(f.name.value for f in _fields(info, inner.selection_set))
    return names


def _fields(
    info: GraphQLResolveInfo, selection_set: SelectionSetNode | None
) -> Iterable[FieldNode]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(info, selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = info.fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(info, fragment.selection_set)
