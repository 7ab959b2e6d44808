"""`edgekv kv bulk put|get|delete FILE` with wrangler's JSON formats.

The whole file is read and checked before the first write (see bulkfile.py). Writes then go to
the store in batches of at most 10,000 pairs (and about 100 MB), each batch atomic, with a
progress bar on stderr. A batch the store refuses does not stop the others; the command ends
by naming what was not written and exits with 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from edgekv import Namespace, errors, limits
from edgekv.cli.bulkfile import Item, key_names, parse_array, put_writes
from edgekv.cli.common import (
    CLIError,
    confirm,
    emit_json,
    info,
    namespace_options,
    open_kv,
    resolve_namespace,
    store_options,
    warn,
)
from edgekv.model import EntryWrite

T = TypeVar("T")
FILE = click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
SHOWN_FAILURES = 10


@click.group()
def bulk() -> None:
    """Write, read and delete many keys from a JSON file."""


def _read(path: Path) -> tuple[list[Item], str]:
    name = "<stdin>" if str(path) == "-" else str(path)
    data = sys.stdin.buffer.read() if name == "<stdin>" else path.read_bytes()
    return parse_array(data, name), name


def _batches(writes: Sequence[EntryWrite]) -> Iterator[Sequence[EntryWrite]]:
    start, size = 0, 0
    for i, write in enumerate(writes):
        if i > start and (
            i - start >= limits.MAX_BULK_WRITE_PAIRS
            or size + write.size > limits.MAX_BULK_BODY_BYTES
        ):
            yield writes[start:i]
            start, size = i, 0
        size += write.size
    if start < len(writes):
        yield writes[start:]


def _chunks(items: Sequence[T], n: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), n):
        yield items[start : start + n]


def _run_batches(
    batches: Sequence[Sequence[T]],
    total: int,
    label: str,
    apply: Callable[[Sequence[T]], object],
    name_of: Callable[[T], str],
) -> tuple[list[str], list[str]]:
    """Applies every batch under a progress bar; returns the keys of failed batches and why."""
    failed: list[str] = []
    reasons: list[str] = []
    with click.progressbar(length=total, label=f"{label} {total} keys", file=sys.stderr) as bar:
        for batch in batches:
            try:
                apply(batch)
            except Exception as e:  # a failed batch must not stop the others
                failed.extend(name_of(x) for x in batch)
                reason = e.message if isinstance(e, errors.KVError) else f"{type(e).__name__}: {e}"
                if reason not in reasons:
                    reasons.append(reason)
            bar.update(len(batch))
    return failed, reasons


def _report(verb: str, failed: list[str], reasons: list[str], total: int) -> None:
    shown = ", ".join(f'"{k}"' for k in failed[:SHOWN_FAILURES])
    more = f" and {len(failed) - SHOWN_FAILURES} more" if len(failed) > SHOWN_FAILURES else ""
    raise CLIError(
        f"{len(failed)} of {total} keys were not {verb}: {shown}{more}.\n"
        + "\n".join(f"  {r}" for r in reasons)
    )


@bulk.command()
@click.argument("filename", type=FILE)
@namespace_options
@store_options
def put(filename: Path) -> None:
    """Write the pairs in FILE: [{key, value, expiration?, expiration_ttl?, metadata?, base64?}]."""
    items, name = _read(filename)
    writes, warnings = put_writes(items, name)
    if warnings:
        warn(f'Unexpected key-value properties in "{name}".\n' + "\n".join(warnings))
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        failed, reasons = _run_batches(
            list(_batches(writes)),
            len(writes),
            "Writing",
            lambda batch: ns.store.put_many(ns.id, batch),
            lambda write: write.key,
        )
    if failed:
        _report("written", failed, reasons, len(writes))
    click.echo(f"Success! Wrote {len(writes)} keys.")


@bulk.command()
@click.argument("filename", type=FILE)
@click.option(
    "--metadata",
    "with_metadata",
    is_flag=True,
    help="Print {value, metadata, expiration?} per key.",
)
@namespace_options
@store_options
def get(filename: Path, with_metadata: bool) -> None:
    """Print the values of the keys in FILE (strings, or `key list` output) as a JSON object."""
    items, name = _read(filename)
    keys = key_names(items, name)
    out: dict[str, Any] = {}
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        failed, reasons = _run_batches(
            list(_chunks(keys, limits.MAX_BULK_GET_KEYS)),
            len(keys),
            "Reading",
            lambda batch: out.update(_get_batch(ns, batch, with_metadata)),
            lambda k: k,
        )
    if failed:
        _report("read", failed, reasons, len(keys))
    emit_json(out)
    info("Success!")


def _get_batch(ns: Namespace, keys: Sequence[str], with_metadata: bool) -> dict[str, Any]:
    try:
        found = ns.get_with_metadata(list(keys))
    except errors.BulkResultTooLarge:  # 100 large values: read them one at a time
        found = {k: ns.get_with_metadata(k) for k in keys}
    out: dict[str, Any] = {}
    for k, v in found.items():
        if v is None or v.value is None:
            out[k] = None
        elif not with_metadata:
            out[k] = v.value
        else:
            out[k] = {"value": v.value, "metadata": v.metadata}
            if v.expiration is not None:
                out[k]["expiration"] = v.expiration
    return out


@bulk.command()
@click.argument("filename", type=FILE)
@click.option(
    "--force",
    "-f",
    "-y",
    is_flag=True,
    help="Do not ask before deleting (needed where edgekv cannot ask: no terminal).",
)
@namespace_options
@store_options
def delete(filename: Path, force: bool) -> None:
    """Delete the keys in FILE (strings, or `key list` output); missing keys are no error."""
    items, name = _read(filename)
    keys = key_names(items, name)
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        question = (
            f'Are you sure you want to delete all the keys read from "{name}" from '
            f'kv-namespace "{ns.title}" (id: "{ns.id}")?'
        )
        if not confirm(question, force, "--force"):
            click.echo(f'Not deleting keys read from "{name}".')
            return
        failed, reasons = _run_batches(
            list(_chunks(keys, limits.MAX_BULK_WRITE_PAIRS)),
            len(keys),
            "Deleting",
            lambda batch: ns.bulk_delete(batch),
            lambda k: k,
        )
    if failed:
        _report("deleted", failed, reasons, len(keys))
    click.echo(f"Success! Deleted {len(keys)} keys.")
