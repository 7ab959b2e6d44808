"""`edgekv kv key delete --prefix P`: every key under a prefix, after a count and a yes.

Keys are listed first (every page), so the count shown, asked about and deleted is one number;
then they are deleted in bulk deletes of up to 10,000 (Cloudflare's bulk limit) under a
progress bar on stderr. A key written under the prefix after the listing is not deleted: run it
again. Deleting needs a yes: asked on a terminal, `--force` (`-y`) anywhere else, because a
script that pipes into it cannot be asked.
"""

from __future__ import annotations

import sys

import click

from edgekv import Namespace, errors, limits
from edgekv.cli.common import CLIError, confirm, info

SHOWN = 10  # keys a dry run prints


def prefix_keys(ns: Namespace, prefix: str) -> list[str]:
    """Every key under `prefix`, in byte order, across all list pages."""
    names: list[str] = []
    cursor = None
    while True:
        page = ns.list(prefix=prefix, limit=limits.MAX_LIST_LIMIT, cursor=cursor)
        names.extend(k.name for k in page.keys)
        if page.list_complete:
            return names
        cursor = page.cursor


def delete_prefix(ns: Namespace, prefix: str, *, dry_run: bool, force: bool) -> None:
    where = f'under the prefix "{prefix}" on namespace id: "{ns.id}"'
    names = prefix_keys(ns, prefix)
    if not names:
        click.echo(f"No keys {where}: nothing to delete.")
        return
    if dry_run:
        click.echo(f"Would delete {len(names)} keys {where}:")
        for name in names[:SHOWN]:
            click.echo(f"  {name}")
        if len(names) > SHOWN:
            click.echo(f"  ... and {len(names) - SHOWN} more")
        return
    # Enter answers no: a prefix may hold far more than the person meant.
    if not confirm(f"Delete {len(names)} keys {where}?", force, "--force (-y)", default=False):
        click.echo("Not deleting.")
        return
    deleted = 0
    with click.progressbar(
        length=len(names), label=f"Deleting {len(names)} keys", file=sys.stderr
    ) as bar:
        for start in range(0, len(names), limits.MAX_BULK_WRITE_PAIRS):
            batch = names[start : start + limits.MAX_BULK_WRITE_PAIRS]
            try:
                ns.bulk_delete(batch)
            except errors.KVError as e:
                raise CLIError(
                    f"Deleted {deleted} of {len(names)} keys {where}, then: {e.message}"
                ) from e
            deleted += len(batch)
            bar.update(len(batch))
    click.echo(f"Deleted {deleted} keys {where}.")


def literal_star(key: str) -> None:
    """Says that a key with `*` is deleted as it is, and how to delete a prefix."""
    stem = key.split("*", 1)[0]
    hint = f' To delete every key under a prefix, use --prefix "{stem}".' if stem else ""
    info(
        f'▲ [WARNING] Keys are literal: "*" is no wildcard, so this deletes the one key '
        f'named "{key}" (if it exists).{hint}'
    )
