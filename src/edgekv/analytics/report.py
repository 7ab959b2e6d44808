"""The monthly usage report teams write by hand, from the usage log (log.py).

Per namespace: reads, writes, deletes and lists, bytes read and written, edge hits and the
hit rate, stored bytes and keys (the month's last sample) and their GB-months, each day's
figures, the estimated cost under Workers Paid, and the days the Free plan's daily limits
would have been exceeded; and the same for the account as a whole, where the plan's
allowances apply (once, to every namespace together: the figure on the bill).

A namespace's own cost is reckoned as if it were the account's only one (its allowances all
its own), as a per-namespace script against Cloudflare's API does; the total is the bill.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from edgekv import errors
from edgekv.analytics.counting import HOUR
from edgekv.analytics.log import OperationCount, StorageSample, UsageLog
from edgekv.analytics.pricing import CLOUDFLARE_PRICES, Prices

TOTAL = "*"  # the namespace id of the account-wide figures


@dataclass(slots=True)
class DayUsage:
    date: str  # YYYY-MM-DD, UTC
    reads: int = 0
    writes: int = 0
    deletes: int = 0
    lists: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    edge_hits: int = 0
    stored_bytes: int = 0  # the day's largest sample
    stored_keys: int = 0


@dataclass(frozen=True, slots=True)
class Cost:
    """Dollars beyond the plan's allowances, by what they pay for."""

    reads: float
    writes: float
    deletes: float
    lists: float
    storage: float

    @property
    def total(self) -> float:
        return self.reads + self.writes + self.deletes + self.lists + self.storage

    def as_json(self) -> dict[str, float]:
        out = {k: round(v, 6) for k, v in asdict(self).items()}
        out["total"] = round(self.total, 6)
        return out


@dataclass(frozen=True, slots=True)
class FreePlanDay:
    """A day on which the Free plan's limits would have been exceeded, and which."""

    date: str
    exceeded: list[str]  # of reads, writes, deletes, lists, storage


@dataclass(slots=True)
class NamespaceUsageReport:
    namespace_id: str  # TOTAL for the account's figures
    title: str
    account_id: str
    days: list[DayUsage] = field(default_factory=list)
    cost: Cost = Cost(0, 0, 0, 0, 0)
    free_plan_exceeded: list[FreePlanDay] = field(default_factory=list)
    gb_months: float = 0.0

    def _sum(self, name: str) -> int:
        return sum(getattr(d, name) for d in self.days)

    @property
    def reads(self) -> int:
        return self._sum("reads")

    @property
    def writes(self) -> int:
        return self._sum("writes")

    @property
    def deletes(self) -> int:
        return self._sum("deletes")

    @property
    def lists(self) -> int:
        return self._sum("lists")

    @property
    def edge_hits(self) -> int:
        return self._sum("edge_hits")

    @property
    def hit_rate(self) -> float | None:
        """Edge hits over reads; None without reads."""
        return self.edge_hits / self.reads if self.reads else None

    @property
    def stored_bytes(self) -> int:
        """The last day's largest sample."""
        sampled = [d for d in self.days if d.stored_bytes or d.stored_keys]
        return sampled[-1].stored_bytes if sampled else 0

    @property
    def stored_keys(self) -> int:
        sampled = [d for d in self.days if d.stored_bytes or d.stored_keys]
        return sampled[-1].stored_keys if sampled else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace_id": self.namespace_id,
            "title": self.title,
            "account_id": self.account_id,
            "reads": self.reads,
            "writes": self.writes,
            "deletes": self.deletes,
            "lists": self.lists,
            "bytes_read": self._sum("bytes_read"),
            "bytes_written": self._sum("bytes_written"),
            "edge_hits": self.edge_hits,
            "hit_rate": self.hit_rate,
            "stored_bytes": self.stored_bytes,
            "stored_keys": self.stored_keys,
            "gb_months": round(self.gb_months, 9),
            "cost": self.cost.as_json(),
            "free_plan_exceeded": [asdict(d) for d in self.free_plan_exceeded],
            "days": [asdict(d) for d in self.days],
        }


@dataclass(slots=True)
class UsageReport:
    month: str  # YYYY-MM
    prices: Prices
    namespaces: list[NamespaceUsageReport]
    total: NamespaceUsageReport

    def as_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "prices": asdict(self.prices),
            "namespaces": [n.as_json() for n in self.namespaces],
            "total": self.total.as_json(),
        }


def month_hours(month: str | None, now: float) -> tuple[str, int, int]:
    """The month (YYYY-MM; None: the current one, UTC) and its first and last hour."""
    if month is None:
        month = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m")
    try:
        first = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC)
    except ValueError:
        raise errors.BadRequest(f"Invalid month {month!r}: use YYYY-MM.") from None
    days = calendar.monthrange(first.year, first.month)[1]
    first_hour = int(first.timestamp()) // HOUR
    return month, first_hour, first_hour + days * 24 - 1


def _date(hour: int) -> str:
    return dt.datetime.fromtimestamp(hour * HOUR, dt.UTC).strftime("%Y-%m-%d")


async def monthly_report(
    log: UsageLog,
    *,
    month: str | None = None,
    account_id: str | None = None,
    namespace_ids: Iterable[str] | None = None,
    prices: Prices = CLOUDFLARE_PRICES,
) -> UsageReport:
    """The month's report (default: this month, UTC) of one account (None: every account)
    and of some namespaces (None: every namespace that shows in the log)."""
    month, first_hour, last_hour = month_hours(month, log.clock())
    wanted = None if namespace_ids is None else set(namespace_ids)
    ops = [
        o
        for o in await log.operations(first_hour, last_hour)
        if (account_id is None or o.account_id == account_id)
        and (wanted is None or o.namespace_id in wanted)
    ]
    storage = [
        s
        for s in await log.storage(first_hour, last_hour)
        if (account_id is None or s.account_id == account_id)
        and (wanted is None or s.namespace_id in wanted)
    ]
    keys = sorted(
        {(o.account_id, o.namespace_id) for o in ops}
        | {(s.account_id, s.namespace_id) for s in storage}
    )
    namespaces = []
    for account, namespace in keys:
        report = NamespaceUsageReport(namespace, await _title(log, namespace), account)
        _fill(
            report,
            [o for o in ops if o.namespace_id == namespace],
            [s for s in storage if s.namespace_id == namespace],
            prices,
        )
        namespaces.append(report)
    total = NamespaceUsageReport(TOTAL, "(all namespaces)", account_id or TOTAL)
    _fill(total, ops, storage, prices)
    return UsageReport(month, prices, namespaces, total)


async def _title(log: UsageLog, namespace_id: str) -> str:
    try:
        return (await log.store.get_namespace(namespace_id)).title
    except errors.NamespaceNotFound:
        return "(deleted)"


_FIELDS = {
    "read": ("reads", "bytes_read"),
    "write": ("writes", "bytes_written"),
    "delete": ("deletes", None),
    "list": ("lists", None),
}


def _fill(
    report: NamespaceUsageReport,
    ops: list[OperationCount],
    storage: list[StorageSample],
    prices: Prices,
) -> None:
    days: dict[str, DayUsage] = {}
    for o in ops:
        day = days.setdefault(_date(o.hour), DayUsage(_date(o.hour)))
        counted, size_field = _FIELDS.get(o.action, (None, None))
        if counted is None:
            continue
        setattr(day, counted, getattr(day, counted) + o.requests)
        if size_field is not None:
            setattr(day, size_field, getattr(day, size_field) + o.bytes)
        day.edge_hits += o.hits
    # Storage: per day, the largest of each hour's total over the namespaces sampled.
    by_hour: dict[int, list[int]] = {}
    for s in storage:
        found = by_hour.setdefault(s.hour, [0, 0])
        found[0] += s.bytes
        found[1] += s.keys
    for hour, (size, keys) in by_hour.items():
        day = days.setdefault(_date(hour), DayUsage(_date(hour)))
        day.stored_bytes = max(day.stored_bytes, size)
        day.stored_keys = max(day.stored_keys, keys)
    report.days = [days[d] for d in sorted(days)]
    sampled = [d.stored_bytes for d in report.days if d.stored_bytes or d.stored_keys]
    # GB-months: the stored bytes averaged over the days sampled (2 GB all month: 2 GB-months).
    report.gb_months = (sum(sampled) / len(sampled) / prices.bytes_per_gb) if sampled else 0.0
    report.cost = paid_cost(report, prices)
    report.free_plan_exceeded = free_plan_days(report.days, prices)


def paid_cost(report: NamespaceUsageReport, prices: Prices) -> Cost:
    """The month's cost under Workers Paid, beyond its included allowances."""

    def beyond(used: float, included: float, per_million: float) -> float:
        return max(0.0, used - included) / 1_000_000 * per_million

    return Cost(
        reads=beyond(report.reads, prices.included_reads, prices.read_per_million),
        writes=beyond(report.writes, prices.included_writes, prices.write_per_million),
        deletes=beyond(report.deletes, prices.included_deletes, prices.delete_per_million),
        lists=beyond(report.lists, prices.included_lists, prices.list_per_million),
        storage=max(0.0, report.gb_months - prices.included_storage_gb)
        * prices.storage_per_gb_month,
    )


def free_plan_days(days: list[DayUsage], prices: Prices) -> list[FreePlanDay]:
    """The days on which the Free plan's daily limits (or its storage) would have been exceeded."""
    out = []
    for d in days:
        exceeded = [
            name
            for name, used, limit in (
                ("reads", d.reads, prices.free_daily_reads),
                ("writes", d.writes, prices.free_daily_writes),
                ("deletes", d.deletes, prices.free_daily_deletes),
                ("lists", d.lists, prices.free_daily_lists),
                ("storage", d.stored_bytes, prices.free_storage_gb * prices.bytes_per_gb),
            )
            if used > limit
        ]
        if exceeded:
            out.append(FreePlanDay(d.date, exceeded))
    return out
