"""`edgekv kv key put|get|list|delete`, shaped like `wrangler kv key`, plus paging on list."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

import click

from edgekv import errors, limits
from edgekv.cli.common import (
    CLIError,
    emit_json,
    info,
    namespace_options,
    open_kv,
    resolve_namespace,
    store_options,
)
from edgekv.cli.prefix_delete import delete_prefix, literal_star
from edgekv.compact import compact_json


@click.group()
def key() -> None:
    """Write, read, list and delete single keys."""


@key.command()
@click.argument("name", metavar="KEY")
@click.argument("value", required=False)
@click.option(
    "--path",
    type=click.File("rb"),
    help="Read the value from this file ('-' for stdin), byte for byte.",
)
@click.option("--ttl", metavar="SECONDS", help="Expire the key this many seconds from now (>= 60).")
@click.option("--expiration", metavar="EPOCH", help="Expire the key at this UNIX time.")
@click.option("--metadata", metavar="JSON", help="JSON to store with the key (<= 1024 bytes).")
@namespace_options
@store_options
def put(
    name: str,
    value: str | None,
    path: IO[bytes] | None,
    ttl: str | None,
    expiration: str | None,
    metadata: str | None,
) -> None:
    """Write VALUE (or the contents of --path) to KEY."""
    source: str | IO[bytes]
    if path is not None and value is None:
        source = path
    elif value is not None and path is None:
        source = value
    else:
        raise CLIError(
            "Exactly one of the arguments value and --path is required"
            if value is None
            else "Arguments value and path are mutually exclusive"
        )
    # Checked before anything is printed, so a refused write says only why.
    limits.validate_key(name)
    limits.resolve_expiration(expiration, ttl, time.time())
    meta = None if metadata is None else json.loads(limits.parse_metadata_json(metadata) or "null")
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        shown = f'id: "{ns.id}"'
        meta_log = "" if meta is None else f' with metadata "{compact_json(meta)}"'
        if path is not None:
            click.echo(
                f'Writing the contents of {path.name} to the key "{name}" on namespace '
                f"{shown}{meta_log}."
            )
        else:
            click.echo(
                f'Writing the value "{value}" to key "{name}" on namespace {shown}{meta_log}.'
            )
        ns.put(
            name,
            source,
            expiration=expiration,
            expiration_ttl=ttl,
            metadata=meta,
        )


@key.command()
@click.argument("name", metavar="KEY")
@click.option("--text", is_flag=True, help="Decode the value as UTF-8 and end it with a newline.")
@namespace_options
@store_options
def get(name: str, text: bool) -> None:
    """Print the value of KEY: its bytes exactly, or with --text as a line of text."""
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        data = ns.get(name, "bytes")
    if data is None:
        raise errors.KeyNotFound()
    if text:
        click.echo(data.decode("utf-8", "replace"))
    else:
        out = sys.stdout.buffer
        out.write(data)
        out.flush()


@key.command("list")
@click.option("--prefix", help="Only keys that start with this (matched exactly).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Print at most this many keys; if more remain, print the cursor to stderr.",
)
@click.option("--cursor", help="Continue after the page that printed this cursor.")
@namespace_options
@store_options
def list_(prefix: str | None, limit: int | None, cursor: str | None) -> None:
    """Print keys as a JSON array of {name, expiration?, metadata?} in byte order.

    Without --limit every key is printed, as wrangler does. With --limit, when keys remain
    the last line on stderr is `cursor: <CURSOR>`; pass it back with --cursor (and the same
    --prefix) for the next page.
    """
    keys: list[dict[str, Any]] = []
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        while True:
            want = limits.MAX_LIST_LIMIT
            if limit is not None:
                want = min(want, limit - len(keys))
            page = ns.list(prefix=prefix, limit=want, cursor=cursor)
            keys.extend(k.as_json() for k in page.keys)
            cursor = page.cursor
            if page.list_complete or (limit is not None and len(keys) >= limit):
                break
    emit_json(keys)
    if cursor is not None and not page.list_complete:
        info(f"cursor: {cursor}")


@key.command()
@click.argument("name", metavar="[KEY]", required=False)
@click.option(
    "--prefix",
    help="Delete every key that starts with this (all pages, in bulk deletes of 10,000).",
)
@click.option("--dry-run", is_flag=True, help="With --prefix: print the count and some keys.")
@click.option(
    "--force", "-f", "-y", is_flag=True, help="With --prefix: do not ask (needed off a terminal)."
)
@namespace_options
@store_options
def delete(name: str | None, prefix: str | None, dry_run: bool, force: bool) -> None:
    """Delete KEY (a missing key is no error), or with --prefix every key under a prefix.

    Keys are literal: `cache:temp:*` is one key of that name. --prefix lists the keys first,
    asks (on a terminal; elsewhere it needs --force), deletes them under a progress bar and
    prints how many; --dry-run prints the count and the first keys, and deletes nothing.
    """
    if (name is None) == (prefix is None):
        raise CLIError(
            "Give either a KEY or --prefix, not both." if name else "Give a KEY or --prefix."
        )
    if prefix is None and dry_run:
        raise CLIError("--dry-run goes with --prefix.")
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        if prefix is not None:
            delete_prefix(ns, prefix, dry_run=dry_run, force=force)
            return
        assert name is not None
        if "*" in name:
            literal_star(name)
        click.echo(f'Deleting the key "{name}" on namespace id: "{ns.id}".')
        ns.delete(name)
