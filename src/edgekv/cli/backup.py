"""`edgekv backup FILE` and `edgekv restore FILE`: a whole store (accounts, tokens still hashed,
namespaces with their ids and titles, keys), as JSON Lines (see edgekv/transfer/backup.py for
the format and how the snapshot stays consistent while writers go on).

A restore checks the whole file first, every key line with `kv bulk put`'s check (bulkfile.py),
and that the file is complete (its last line closes it); nothing is written otherwise.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click

from edgekv import errors
from edgekv.cli.bulkfile import BulkFileError, Item, PutCheck, parse_lines
from edgekv.cli.common import CLIError, chosen_store_url, info, store_options
from edgekv.model import NamespaceInfo
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._async.urls import store_from_url
from edgekv.transfer import store_backup as snapshot
from edgekv.transfer.store_backup import (
    DeleteRecord,
    DropRecord,
    NamespaceRecord,
    PutRecord,
    Record,
    apply_restore,
    plan_restore,
)

FILE = click.Path(exists=True, dir_okay=False, allow_dash=False, path_type=Path)


@click.command("backup")
@click.argument("filename", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--settle",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="PostgreSQL, Redis: seconds to catch up with the writes made during the backup.",
)
@store_options
def backup(filename: Path, settle: float) -> None:
    """Write every account, token, namespace and key of the store to FILE ("-": stdout)."""
    if str(filename) == "-":
        summary = asyncio.run(_backup(sys.stdout.buffer, settle))
    else:
        partial = filename.with_name(filename.name + ".partial")
        with partial.open("wb") as out:
            summary = asyncio.run(_backup(out, settle))
        os.replace(partial, filename)  # never a file of that name that is not a whole backup
    how = "SQLite's online backup" if summary.snapshot == "sqlite-backup" else "the change feed"
    info(
        f"Backed up {summary.namespaces} namespaces and {summary.keys} keys "
        f"(a snapshot by {how}, at feed position {summary.position})."
    )
    if not summary.consistent:
        info(
            f"▲ [WARNING] Writes went on for the {settle:g} s given to catch up with them: "
            "each key is at least as new as that position, not all of one instant."
        )


async def _backup(out: IO[bytes], settle: float) -> snapshot.BackupSummary:
    store = store_from_url(chosen_store_url())
    try:
        return await snapshot.backup(store, out, settle=settle)
    finally:
        await store.aclose()


@dataclass
class Checked:
    namespaces: dict[str, NamespaceInfo] = field(default_factory=dict)
    keys: int = 0
    expired: int = 0


def _records(path: Path, check: PutCheck, checked: Checked | None = None) -> Iterator[Record]:
    """The file's records in order; with `checked`, the first pass: everything is checked and
    counted (problems collected by `check`, the structure refused at once)."""
    name = str(path)
    last: Item | None = None
    ended = False
    with path.open("rb") as f:
        for item in parse_lines(f, name):
            value = item.value
            where = f"{name}:{item.line}"
            if ended:
                raise BulkFileError(f"{where}: a line after the end of the backup.")
            if last is None:
                if not (isinstance(value, dict) and value.get("edgekv_backup") == snapshot.FORMAT):
                    raise BulkFileError(
                        f"{where}: not an edgekv backup (format {snapshot.FORMAT})."
                    )
                last = item
                continue
            last = item
            record = _record(value, where, check, item, checked)
            if record is None:
                ended = ended or (isinstance(value, dict) and "end" in value)
                continue
            yield record
    if not ended:
        raise BulkFileError(f"{name}: the backup is incomplete (no end line); nothing was written.")


def _record(
    value: Any, where: str, check: PutCheck, item: Item, checked: Checked | None
) -> Record | None:
    if not isinstance(value, dict):
        raise BulkFileError(f"{where}: expected an object.")
    if "end" in value:
        return None
    if "namespace" in value:
        ns = value["namespace"]
        try:
            info_ = NamespaceInfo(str(ns["id"]), str(ns["title"]), str(ns["account_id"]))
        except (KeyError, TypeError) as e:
            raise BulkFileError(f"{where}: a namespace needs id, title and account_id.") from e
        if checked is not None:
            checked.namespaces[info_.id] = info_
        return NamespaceRecord(info_)
    if "drop" in value:
        return DropRecord(str(value["drop"]))
    namespace_id = value.get("ns")
    if checked is not None and namespace_id not in checked.namespaces:
        raise BulkFileError(f"{where}: a key of namespace {namespace_id!r}, not declared before.")
    if value.get("deleted") is True:
        return DeleteRecord(str(namespace_id), str(value.get("key")))
    write = check.check(Item(item.index, item.line, {k: v for k, v in value.items() if k != "ns"}))
    if write is None:
        return None  # bad (check collected why) or expired since the backup
    if checked is not None:
        checked.keys += 1
    return PutRecord(str(namespace_id), write)


@click.command("restore")
@click.argument("filename", type=FILE)
@store_options
def restore(filename: Path) -> None:
    """Restore a backup FILE into the store (an empty one, or the one it was restored into
    before: running it again after an interruption finishes the job)."""
    first = PutCheck(str(filename), stored_expiration=True)
    checked = Checked()
    for _ in _records(filename, first, checked):
        pass
    first.finish()
    summary = asyncio.run(_restore(filename, checked))
    expired = f" ({first.expired} expired since the backup were left out)" if first.expired else ""
    click.echo(
        f"Success! Restored {summary.namespaces} namespaces ({summary.created} created) and "
        f"{summary.keys} keys{expired}."
    )


async def _restore(path: Path, checked: Checked) -> Any:
    store: AsyncStore = store_from_url(chosen_store_url())
    try:
        existing = await plan_restore(store, checked.namespaces.values())
        with click.progressbar(
            length=checked.keys, label=f"Restoring {checked.keys} keys", file=sys.stderr
        ) as bar:
            records = _records(path, PutCheck(str(path), stored_expiration=True))
            return await apply_restore(store, records, existing, on_keys=bar.update)
    except errors.NamespaceIdTaken as e:
        raise CLIError(f"{e.message} Restore into an empty store.") from e
    finally:
        await store.aclose()
