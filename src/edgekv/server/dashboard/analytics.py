"""The analytics page: a month of the account's usage, as `edgekv analytics` reports it.

Operations per day by action, storage over time, the edge hit rate per day, the estimated
monthly cost under Workers Paid against its allowances, and the days the Free plan's daily
limits would have been exceeded; for the account, or one namespace (`?namespace=`). The
figures are `monthly_report`'s (analytics/report.py), read from the usage log the server
writes, so this page, the CLI and the GraphQL endpoint never disagree. A namespace-scoped
token sees only its namespaces' usage.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import Route

from edgekv.analytics.log import UsageLog
from edgekv.analytics.pricing import Prices
from edgekv.analytics.report import DayUsage, NamespaceUsageReport, month_hours, monthly_report
from edgekv.server.dashboard.charts import legend, line, stacked_bars
from edgekv.server.dashboard.site import Call, Site

ACTIONS = ("reads", "writes", "deletes", "lists")


class AnalyticsPage:
    def __init__(self, site: Site, usage_log: UsageLog) -> None:
        self.site = site
        self.usage_log = usage_log

    def routes(self) -> list[Route]:
        return [Route("/analytics", self.site.page(self.show), methods=["GET"])]

    async def show(self, call: Call) -> Response:
        month, _, _ = month_hours(call.query("month") or None, self.site.clock())
        namespace = None
        if wanted := call.query("namespace"):
            namespace = await self.site.namespace(call.viewer, wanted)
        token = call.viewer.token
        if namespace is not None:
            ids: list[str] | None = [namespace.id]
        elif token is not None and token.namespaces:
            ids = list(token.namespaces)
        else:
            ids = None
        report = await monthly_report(
            self.usage_log, month=month, account_id=call.viewer.account_id, namespace_ids=ids
        )
        shown = report.namespaces[0] if namespace is not None and report.namespaces else None
        figures = shown or report.total
        return self.site.render(
            call.request,
            "analytics.html",
            viewer=call.viewer,
            month=month,
            months=_recent_months(self.site.clock()),
            namespace=namespace,
            report=report,
            figures=figures,
            charts=_charts(figures, month, self.site.clock()),
            legend=legend([a.capitalize() for a in ACTIONS]),
            counting=self.usage_log.usage is not None,
            allowances=_allowances(figures, report.prices),
        )


def _charts(figures: NamespaceUsageReport, month: str, now: float) -> dict[str, Markup]:
    """The month's days up to today on every chart's axis, days without usage at 0."""
    found = {d.date: d for d in figures.days}
    days = [found.get(date) or DayUsage(date) for date in _month_days(month, now)]
    labels = [d.date[8:] for d in days]  # the day of the month
    hit_days = [d for d in days if d.reads]
    return {
        "operations": stacked_bars(
            "Operations per day, by action",
            labels,
            {a.capitalize(): [getattr(d, a) for d in days] for a in ACTIONS},
        ),
        "storage": line("Stored bytes per day", labels, [d.stored_bytes for d in days], "B"),
        "hit_rate": line(
            "Edge hit rate per day",
            [d.date[8:] for d in hit_days],
            [100 * d.edge_hits / d.reads for d in hit_days],
            "%",
            top=100.0,
        ),
    }


def _month_days(month: str, now: float) -> list[str]:
    """YYYY-MM-DD of each day of the month, up to today for the current month."""
    first = dt.date.fromisoformat(f"{month}-01")
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    out = []
    day = first
    while day.month == first.month and day <= today:
        out.append(day.isoformat())
        day += dt.timedelta(days=1)
    return out or [first.isoformat()]


class Allowance(NamedTuple):
    """One billed item: used this month, what Workers Paid includes, the cost beyond it."""

    what: str
    used: float
    included: float
    cost: float


def _allowances(figures: NamespaceUsageReport, prices: Prices) -> list[Allowance]:
    cost = figures.cost
    return [
        Allowance("Reads", figures.reads, prices.included_reads, cost.reads),
        Allowance("Writes", figures.writes, prices.included_writes, cost.writes),
        Allowance("Deletes", figures.deletes, prices.included_deletes, cost.deletes),
        Allowance("Lists", figures.lists, prices.included_lists, cost.lists),
        Allowance(
            "Storage (GB-months)", figures.gb_months, prices.included_storage_gb, cost.storage
        ),
    ]


def _recent_months(now: float, count: int = 2) -> list[str]:
    """This month and the one before: the usage log keeps 31 days."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date().replace(day=1)
    months = [today]
    for _ in range(count - 1):
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return [m.strftime("%Y-%m") for m in months]
