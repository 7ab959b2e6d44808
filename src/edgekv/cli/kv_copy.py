"""`edgekv kv copy --from SOURCE --to TARGET` and `edgekv kv verify`: namespaces between any two
stores or servers, Cloudflare's API included.

SOURCE and TARGET are store URLs (`sqlite:///...`, `postgresql://...`, `redis://...`), edgekv
servers (`http://host:8787`) or Cloudflare (`https://api.cloudflare.com/client/v4`), with
`--from-token`/`--from-account-id` and `--to-token`/`--to-account-id` for the servers. Each
source namespace is copied into the target's namespace of the same id, else of the same title,
else a new one with its title and (where the target honours it) its id. `--watch` then follows
the source's change feed, from a position taken before the copy, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from edgekv import DEFAULT_ACCOUNT, limits
from edgekv.cli.common import CLIError, info
from edgekv.cli.store_choice import resolve_store_url, with_connect_deadline
from edgekv.server.run import redact
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._async.urls import store_from_url
from edgekv.transfer.copy import (
    CopySummary,
    NamespacePair,
    copy_namespace,
    has_change_feed,
    match_namespaces,
    verify_namespace,
    watch,
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Side:
    url: str
    token: str | None
    account_id: str | None

    @property
    def shown(self) -> str:
        return redact(self.url)

    def open(self) -> AsyncStore:
        return store_from_url(
            with_connect_deadline(self.url), token=self.token, account_id=self.account_id
        )

    @property
    def account(self) -> str:
        """The account whose namespaces are copied (a server's store ignores it: its token's)."""
        return self.account_id or DEFAULT_ACCOUNT


def _sides(f: F) -> F:
    options = [
        click.option("--from", "from_url", required=True, metavar="URL", help="The source."),
        click.option(
            "--from-token", envvar="EDGEKV_FROM_TOKEN", help="API token of a source server."
        ),
        click.option("--from-account-id", metavar="ID", help="The source's account."),
        click.option(
            "--to",
            "to_url",
            metavar="URL",
            help="The target (default: the store `edgekv serve` uses: $EDGEKV_STORE, "
            "$EDGEKV_DATA_DIR, else the per-user data dir).",
        ),
        click.option("--to-token", envvar="EDGEKV_TO_TOKEN", help="API token of a target server."),
        click.option("--to-account-id", metavar="ID", help="The target's account."),
        click.option(
            "--namespace",
            "namespaces",
            multiple=True,
            metavar="ID|TITLE",
            help="Only this source namespace (repeatable; default: every one of the account).",
        ),
        click.option("--prefix", default="", metavar="PREFIX", help="Only keys with PREFIX."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _pick(
    from_url: str,
    from_token: str | None,
    from_account_id: str | None,
    to_url: str | None,
    to_token: str | None,
    to_account_id: str | None,
) -> tuple[Side, Side]:
    source = Side(from_url, from_token, from_account_id)
    target = Side(to_url or resolve_store_url(), to_token, to_account_id)
    if source.url == target.url and source.account == target.account:
        raise CLIError("--from and --to name the same store and account: nothing to copy.")
    return source, target


@contextlib.asynccontextmanager
async def _opened(source: Side, target: Side) -> AsyncIterator[tuple[AsyncStore, AsyncStore]]:
    a, b = source.open(), target.open()
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


def _shown(pair: NamespacePair) -> str:
    arrow = "new" if pair.created else "existing"
    return f'"{pair.source.title}" ({pair.source.id} -> {arrow} {pair.target.id})'


@click.command("copy")
@_sides
@click.option(
    "--watch",
    "follow",
    is_flag=True,
    help="After the copy, keep copying changes (the source's change feed) until Ctrl-C.",
)
@click.option(
    "--batch-size",
    default=limits.MAX_BULK_WRITE_PAIRS,
    show_default=True,
    type=click.IntRange(1, limits.MAX_BULK_WRITE_PAIRS),
    help="Keys per atomic batch written to the target.",
)
def copy(
    follow: bool, batch_size: int, prefix: str, namespaces: tuple[str, ...], **sides: Any
) -> None:
    """Copy namespaces (values, metadata, expirations) from one store or server to another.

    \b
    From Cloudflare into the local store, keeping namespace ids and titles:
      edgekv kv copy --from https://api.cloudflare.com/client/v4 \\
        --from-account-id $CF_ACCOUNT_ID --from-token $CF_API_TOKEN
    """
    source, target = _pick(**sides)
    asyncio.run(
        _copy(source, target, namespaces, limits.validate_prefix(prefix), follow, batch_size)
    )


async def _copy(
    source: Side,
    target: Side,
    namespaces: tuple[str, ...],
    prefix: str,
    follow: bool,
    batch_size: int,
) -> None:
    async with _opened(source, target) as (src, dst):
        if follow and not await has_change_feed(src):
            raise CLIError(
                f"{source.shown} has no change feed (Cloudflare's API has none), so --watch "
                "cannot follow it. Copy again before the cut-over to catch up."
            )
        position = await src.feed_position() if follow else ""  # before anything is read
        pairs = await match_namespaces(
            src,
            dst,
            source_account=source.account,
            target_account=target.account,
            only=namespaces,
        )
        total = CopySummary()
        for pair in pairs:
            done = await copy_namespace(src, dst, pair, prefix=prefix, batch_pairs=batch_size)
            total.add(done)
            left = f", {done.left_out} expiring left out" if done.left_out else ""
            info(f"Copied {done.written} keys of {_shown(pair)}{left}.")
        click.echo(
            f"Success! Copied {total.written} keys in {len(pairs)} namespaces "
            f"from {source.shown} to {target.shown}."
        )
        if follow:
            await _watch(src, dst, pairs, position, prefix)


async def _watch(
    src: AsyncStore, dst: AsyncStore, pairs: list[NamespacePair], position: str, prefix: str
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    info("Watching the source's changes; Ctrl-C stops.")

    def report(done: CopySummary) -> None:
        again = " (the feed had dropped changes: copied everything again)" if done.resynced else ""
        info(f"  {done.written} written, {done.deleted} deleted{again}")

    try:
        total = await watch(src, dst, pairs, position, prefix=prefix, stop=stop, on_change=report)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    click.echo(f"Stopped watching: {total.written} keys written, {total.deleted} deleted.")


@click.command("verify")
@_sides
def verify(prefix: str, namespaces: tuple[str, ...], **sides: Any) -> None:
    """Compare namespaces of two stores or servers key by key (values, metadata, expirations).

    Exits with 1 if anything differs, naming the first keys that do.
    """
    source, target = _pick(**sides)
    asyncio.run(_verify(source, target, namespaces, limits.validate_prefix(prefix)))


async def _verify(source: Side, target: Side, namespaces: tuple[str, ...], prefix: str) -> None:
    async with _opened(source, target) as (src, dst):
        pairs = await match_namespaces(
            src,
            dst,
            source_account=source.account,
            target_account=target.account,
            only=namespaces,
            create=False,
        )
        problems: list[str] = []
        same = 0
        for pair in pairs:
            diff = await verify_namespace(src, dst, pair, prefix=prefix)
            same += diff.same
            for kind in ("missing", "extra", "different"):
                if diff.counts[kind]:
                    shown = ", ".join(f'"{k}"' for k in getattr(diff, kind))
                    more = diff.counts[kind] - len(getattr(diff, kind))
                    problems.append(
                        f'"{pair.source.title}": {diff.counts[kind]} {kind}: {shown}'
                        + (f" and {more} more" if more > 0 else "")
                    )
    if problems:
        raise CLIError(f"{target.shown} differs from {source.shown}:\n  " + "\n  ".join(problems))
    click.echo(f"Success! {same} keys in {len(pairs)} namespaces are the same in both.")
    sys.stdout.flush()
