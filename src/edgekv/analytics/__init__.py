"""Usage analytics: operations counted the way Cloudflare bills Workers KV, the usage log in
the central store, the monthly report with its cost model (docs/analytics.md).

    log = UsageLog(store)
    report = await monthly_report(log, month="2026-12")
    for ns in report.namespaces:
        print(ns.title, ns.reads, ns.writes, ns.hit_rate, ns.cost.total)
"""

from edgekv.analytics.counting import ACTIONS, Usage
from edgekv.analytics.log import OperationCount, StorageSample, UsageLog
from edgekv.analytics.pricing import CLOUDFLARE_PRICES, PRICES_AS_OF, Prices, load_prices
from edgekv.analytics.report import (
    Cost,
    DayUsage,
    FreePlanDay,
    NamespaceUsageReport,
    UsageReport,
    monthly_report,
)

__all__ = [
    "ACTIONS",
    "CLOUDFLARE_PRICES",
    "PRICES_AS_OF",
    "Cost",
    "DayUsage",
    "FreePlanDay",
    "NamespaceUsageReport",
    "OperationCount",
    "Prices",
    "StorageSample",
    "Usage",
    "UsageLog",
    "UsageReport",
    "load_prices",
    "monthly_report",
]
