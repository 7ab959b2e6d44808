"""`edgekv analytics`: the monthly usage report, with the cost under Workers Paid and the days
the Free plan's limits would have been exceeded (docs/analytics.md).

It reads the usage log every server writes to the central store (analytics/log.py), so it
shows what servers counted up to their last flush (every 2 s).
"""

from __future__ import annotations

import asyncio

import click

from edgekv import errors
from edgekv.analytics import UsageLog, monthly_report
from edgekv.analytics.pricing import CLOUDFLARE_PRICES, Prices, load_prices, with_overrides
from edgekv.analytics.report import NamespaceUsageReport, UsageReport
from edgekv.cli.common import (
    CLIError,
    account_option,
    chosen_account_id,
    chosen_store_url,
    emit_json,
    store_options,
)
from edgekv.limits import NAMESPACE_ID
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._async.urls import store_from_url


@click.command("analytics")
@click.option("--namespace", "namespace", metavar="NS", help="Only this namespace (title or id).")
@click.option("--month", metavar="YYYY-MM", help="The month to report (default: this one, UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--prices",
    "prices_file",
    metavar="FILE",
    help="A price list (TOML or JSON) over Cloudflare's; keys as in `--json`'s prices.",
)
@click.option(
    "--price",
    "price_overrides",
    metavar="NAME=VALUE",
    multiple=True,
    help="Override one price or allowance, e.g. --price write_per_million=4.5 (repeatable).",
)
@account_option
@store_options
def analytics(
    namespace: str | None,
    month: str | None,
    as_json: bool,
    prices_file: str | None,
    price_overrides: tuple[str, ...],
) -> None:
    """Reads, writes, deletes, lists, stored bytes and keys, edge hit rate and the estimated
    cost under Workers Paid per namespace for a month, and the days the Free plan's daily
    limits would have been exceeded."""
    prices = load_prices(prices_file) if prices_file else CLOUDFLARE_PRICES
    prices = with_overrides(prices, dict(_pair(p) for p in price_overrides))
    account_id = chosen_account_id()
    try:
        report = asyncio.run(_report(chosen_store_url(), account_id, namespace, month, prices))
    except errors.KVError as e:
        raise CLIError(e.message) from e
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo(render(report))


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{text!r} is not NAME=VALUE", param_hint="--price")
    return name.strip(), value.strip()


async def _report(
    store_url: str, account_id: str, namespace: str | None, month: str | None, prices: Prices
) -> UsageReport:
    store = store_from_url(store_url)
    try:
        ids = None if namespace is None else [await _namespace_id(store, account_id, namespace)]
        return await monthly_report(
            UsageLog(store), month=month, account_id=account_id, namespace_ids=ids, prices=prices
        )
    finally:
        await store.aclose()


async def _namespace_id(store: AsyncStore, account_id: str, name: str) -> str:
    if NAMESPACE_ID.fullmatch(name):
        try:
            info = await store.get_namespace(name)
            if info.account_id == account_id:
                return info.id
        except errors.NamespaceNotFound:
            pass
    try:
        return (await store.find_namespace(account_id, name)).id
    except errors.NamespaceNotFound:
        raise CLIError(
            f'No namespace "{name}" (a title or an id) in this account. '
            'List them with "edgekv kv namespace list".'
        ) from None


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def _row(n: NamespaceUsageReport) -> list[str]:
    rate = "-" if n.hit_rate is None else f"{n.hit_rate * 100:.1f} %"
    return [
        n.title,
        f"{n.reads:,}",
        f"{n.writes:,}",
        f"{n.deletes:,}",
        f"{n.lists:,}",
        _size(n.stored_bytes),
        f"{n.stored_keys:,}",
        rate,
        f"${n.cost.total:,.2f}",
    ]


def render(report: UsageReport) -> str:
    """The report as a table, then the Free plan's days."""
    head = ["NAMESPACE", "READS", "WRITES", "DELETES", "LISTS", "STORED", "KEYS", "HIT RATE"]
    head.append("COST")
    rows = [head, *(_row(n) for n in report.namespaces)]
    if len(report.namespaces) != 1:
        rows.append(_row(report.total))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        f"Workers KV usage in {report.month}: cost under Workers Paid, beyond its included "
        f"allowances (prices of {report.prices.as_of}, {report.prices.currency})"
    ]
    for r in rows:
        cells = [
            r[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)),
        ]
        lines.append("  ".join(cells))
    if len(report.namespaces) != 1:
        lines.append("(the last line is the account's: the allowances apply to it once)")
    days = report.total.free_plan_exceeded
    if days:
        lines.append("Free plan daily limits exceeded on:")
        lines += [f"  {d.date}: {', '.join(d.exceeded)}" for d in days]
    else:
        lines.append("Free plan daily limits: never exceeded this month.")
    return "\n".join(lines)
