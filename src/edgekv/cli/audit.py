"""`edgekv audit [--namespace NS] [--json] [--stale-days N]`: edgekv.audit, printed."""

from __future__ import annotations

import time
from typing import Any

import click

from edgekv import KV, Namespace, errors
from edgekv.audit import NEAR, audit
from edgekv.cli.common import CLIError, account_option, emit_json, open_kv, store_options


@click.command("audit")
@click.option("--namespace", "namespace", metavar="NS", help="Only this namespace (id or title).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list, one per namespace).")
@click.option(
    "--stale-days",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Report keys not written for this many days.",
)
@account_option
@store_options
def audit_command(namespace: str | None, as_json: bool, stale_days: int) -> None:
    """Audit namespaces: keys without expiration, the largest values, prefixes by keys and
    bytes, keys near Workers KV's limits, keys not written for --stale-days days.

    Reads the keys' list only (sizes and last writes are in it), never a value.
    """
    now = time.time()
    with open_kv() as kv:
        reports = [audit(ns, stale_days=stale_days, now=now) for ns in _namespaces(kv, namespace)]
    if as_json:
        emit_json(reports)
        return
    for report in reports:
        _print(report)


def _namespaces(kv: KV, wanted: str | None) -> list[Namespace]:
    if wanted is not None:
        try:
            return [kv.namespace(wanted)]
        except errors.NamespaceNotFound:
            raise CLIError(f'No namespace with the id or title "{wanted}".') from None
    found: list[Namespace] = []
    page = 1
    while True:
        listed = kv.list_namespaces(page=page, per_page=100)
        found.extend(kv.namespace(info.id) for info in listed.namespaces)
        if len(listed.namespaces) < 100:
            return found
        page += 1


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError


def _prefixes(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        shown = row["prefix"] or "(no prefix)"
        click.echo(f"      {shown:<32} {row['keys']:>10,} keys {_size(row['bytes']):>12}")


def _print(report: dict[str, Any]) -> None:
    ns = report["namespace"]
    click.echo(
        f'Namespace "{ns["title"]}" (id: {ns["id"]}): {report["keys"]:,} keys, '
        f"{_size(report['bytes'])}"
    )
    if report["keys_of_unknown_size"]:
        click.echo(f"  ({report['keys_of_unknown_size']:,} keys of unknown size, counted as 0)")
    forever = report["without_expiration"]
    click.echo(f"  Without expiration: {forever['keys']:,} keys, {_size(forever['bytes'])}")
    _prefixes(forever["top_prefixes"])
    click.echo("  Largest values:")
    for row in report["largest_values"]:
        click.echo(f"      {row['name']:<32} {_size(row['bytes']):>12}")
    click.echo("  Prefixes by keys:")
    _prefixes(report["prefixes_by_keys"])
    click.echo("  Prefixes by bytes:")
    _prefixes(report["prefixes_by_bytes"])
    near = report["near_limits"]
    click.echo(f"  Near the limits (above {NEAR:.0%}):")
    for what, label in (("key_names", "key name"), ("metadata", "metadata"), ("values", "value")):
        found = near[what]
        click.echo(f"    {label} ({_size(found['limit'])}): {found['count']:,} keys")
        for row in found["keys"]:
            click.echo(f"      {row['name'][:60]:<60} {_size(row['bytes']):>12}")
    stale = report["not_written_for_days"]
    click.echo(
        f"  Not written for {stale['days']} days: {stale['keys']:,} keys, {_size(stale['bytes'])}"
        + (
            f" ({stale['keys_of_unknown_last_write']:,} keys of unknown last write)"
            if stale["keys_of_unknown_last_write"]
            else ""
        )
    )
    _prefixes(stale["top_prefixes"])
    for row in stale["oldest"]:
        written = time.strftime("%Y-%m-%d", time.gmtime(row["written_at"]))
        click.echo(f"      oldest: {row['name']:<32} written {written}")
