"""`edgekv kv export` and `edgekv kv import FILE`: a namespace (or a prefix of one) as JSON Lines.

Export streams the namespace a list page at a time (see edgekv/transfer), to stdout or a file
written under a temporary name and renamed once complete, so a file of that name is never a
partial export. Import reads the file twice: first it checks every line, as `kv bulk put`
checks its file (bulkfile.py: nothing is written if any line is bad); then it writes in atomic
batches of up to 10,000 lines with a progress bar, recording after each batch the last line
written in a state file (FILE.import-state), so that `--resume` continues after an
interruption instead of starting over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import click

from edgekv import errors, limits
from edgekv.cli.bulkfile import Item, PutCheck, parse_lines
from edgekv.cli.common import (
    CLIError,
    chosen_store_url,
    info,
    namespace_options,
    open_kv,
    resolve_namespace,
    store_options,
    warn,
)
from edgekv.model import EntryWrite
from edgekv.stores._async.urls import store_from_url
from edgekv.transfer.entries import entries
from edgekv.transfer.lines import entry_line
from edgekv.transfer.writer import takes_any_expiration

FILE = click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)


@click.command("export")
@click.option("--prefix", default="", metavar="PREFIX", help="Only the keys starting with PREFIX.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE (default: stdout).",
)
@namespace_options
@store_options
def export(prefix: str, output: Path | None) -> None:
    """Print every key of a namespace as JSON Lines: {key, value, base64?, metadata?, expiration?}.

    \b
    Values that are not UTF-8 are base64 with "base64": true; `kv import` and `kv bulk put`
    read the lines back. Memory does not grow with the number of keys.
    """
    with open_kv() as kv:
        ns = resolve_namespace(kv)
        account_id = kv.account_id
    prefix = limits.validate_prefix(prefix)
    if output is None:
        count = asyncio.run(
            _export(chosen_store_url(), account_id, ns.id, prefix, sys.stdout.buffer)
        )
    else:
        partial = output.with_name(output.name + ".partial")
        with partial.open("wb") as out:
            count = asyncio.run(_export(chosen_store_url(), account_id, ns.id, prefix, out))
        os.replace(partial, output)
    where = f' under "{prefix}"' if prefix else ""
    info(f'Exported {count} keys{where} of "{ns.title}" (id: "{ns.id}").')


async def _export(url: str, account_id: str, namespace_id: str, prefix: str, out: IO[bytes]) -> int:
    store = store_from_url(url, account_id=account_id)
    count = 0
    try:
        async for batch in entries(store, namespace_id, prefix):
            out.write(b"".join(entry_line(e) for e in batch))
            count += len(batch)
        out.flush()
    finally:
        await store.aclose()
    return count


@dataclass
class ImportState:
    """Where an import got to: the last line of the last batch written, and what it was for."""

    file: str
    size: int
    mtime_ns: int
    namespace_id: str
    line: int = 0
    written: int = 0

    def same_import(self, other: ImportState) -> bool:
        mine, theirs = asdict(self), asdict(other)
        return all(mine[k] == theirs[k] for k in ("file", "size", "mtime_ns", "namespace_id"))


def _read_state(path: Path) -> ImportState | None:
    try:
        return ImportState(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as e:
        raise CLIError(f"{path} is not an import state file ({e}); delete it to start over.") from e


def _write_state(path: Path, state: ImportState) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(state)))
    os.replace(temporary, path)  # a crash leaves the old state or the new one, never half


@click.command("import")
@click.argument("filename", type=FILE)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted import of FILE after the last line it wrote.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to record progress (default: FILE.import-state).",
)
@click.option(
    "--batch-size",
    default=limits.MAX_BULK_WRITE_PAIRS,
    show_default=True,
    type=click.IntRange(1, limits.MAX_BULK_WRITE_PAIRS),
    help="Lines per atomic batch.",
)
@namespace_options
@store_options
def import_(filename: Path, resume: bool, state_path: Path | None, batch_size: int) -> None:
    """Write the keys of a JSON Lines FILE (as `kv export` writes it) into a namespace.

    \b
    The whole file is checked first; nothing is written if any line is bad. Expirations are
    kept as exported; keys that expired since are left out.
    """
    with _seekable(filename, resume) as (path, name):
        total, expired = _check(path, name)
        if str(filename) == "-":  # nothing to resume later: the state is only this run's
            state_file = path.with_name(path.name + ".import-state")
        else:
            state_file = state_path or Path(f"{path}.import-state")
        with open_kv() as kv:
            ns = resolve_namespace(kv)
            stat = path.stat()
            fresh = ImportState(str(path.resolve()), stat.st_size, stat.st_mtime_ns, ns.id)
            state = _starting_state(state_file, fresh, resume, name)
            written = _write(ns.store, ns.id, path, name, state, state_file, total, batch_size)
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
    skipped = f" ({expired} expired since the export were left out)" if expired else ""
    click.echo(f"Success! Imported {written} keys{skipped}.")


@contextlib.contextmanager
def _seekable(filename: Path, resume: bool) -> Iterator[tuple[Path, str]]:
    """The file to read twice; stdin is copied to a temporary file first."""
    if str(filename) != "-":
        yield filename, str(filename)
        return
    if resume:
        raise CLIError("--resume needs the file itself: an import from stdin cannot resume.")
    with tempfile.NamedTemporaryFile(prefix="edgekv-import-", suffix=".jsonl") as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy)
        copy.flush()
        yield Path(copy.name), "<stdin>"


def _check(path: Path, name: str) -> tuple[int, int]:
    """Checks every line (bulkfile's check); returns how many will be written and expired."""
    check = PutCheck(name, stored_expiration=True)
    lines = 0
    with path.open("rb") as f:
        for item in parse_lines(f, name):
            check.check(item)
            lines += 1
    check.finish()
    if check.warnings:
        warn(f'Unexpected key-value properties in "{name}".\n' + "\n".join(check.warnings))
    return lines - check.expired, check.expired


def _starting_state(state_file: Path, fresh: ImportState, resume: bool, name: str) -> ImportState:
    found = _read_state(state_file)
    if not resume:
        if found is not None and found.same_import(fresh) and found.line:
            warn(
                f"An interrupted import of {name} had written up to line {found.line}; "
                "starting over (--resume would have continued)."
            )
        return fresh
    if found is None:
        raise CLIError(f"Nothing to resume: no state file {state_file}.")
    if not found.same_import(fresh):
        raise CLIError(
            f"{state_file} records an import of another file or namespace (or the file "
            "changed since): delete it to start over."
        )
    info(f"Resuming {name} after line {found.line} ({found.written} keys written).")
    return found


def _write(
    store: Any,
    namespace_id: str,
    path: Path,
    name: str,
    state: ImportState,
    state_file: Path,
    total: int,
    batch_size: int,
) -> int:
    check = PutCheck(name, stored_expiration=True)
    # A server's API refuses expirations under a minute away: those keys are left out.
    soon = 0 if takes_any_expiration(store) else limits.MIN_EXPIRATION_TTL
    batch: list[EntryWrite] = []
    size = 0
    first = 0
    with click.progressbar(length=total, label=f"Importing {total} keys", file=sys.stderr) as bar:
        bar.update(state.written)

        def commit(last_line: int) -> None:
            nonlocal batch, size
            if batch:
                try:
                    store.put_many(namespace_id, batch)
                except Exception as e:  # the store's refusal or its driver's fault
                    reason = (
                        e.message if isinstance(e, errors.KVError) else f"{type(e).__name__}: {e}"
                    )
                    raise CLIError(
                        f"Lines {first}-{last_line} of {name} were not written: {reason}\n"
                        f"Run the same command with --resume to continue from line {first}."
                    ) from e
                bar.update(len(batch))
            state.line, state.written = last_line, state.written + len(batch)
            _write_state(state_file, state)
            batch, size = [], 0

        item: Item | None = None
        with path.open("rb") as f:
            try:
                for item in parse_lines(f, name):
                    if item.line <= state.line:
                        continue
                    write = check.check(item)
                    if write is None or (
                        write.expiration is not None and write.expiration <= check.now + soon
                    ):
                        continue
                    if batch and (
                        len(batch) >= batch_size or size + write.size > limits.MAX_BULK_BODY_BYTES
                    ):
                        commit(item.line - 1)
                    if not batch:
                        first = item.line
                    batch.append(write)
                    size += write.size
                commit(item.line if item is not None else state.line)
            except KeyboardInterrupt:
                raise CLIError(
                    f"Interrupted: lines up to {state.line} are written. Run the same command "
                    "with --resume to continue."
                ) from None
    check.finish()  # the file changed since it was checked
    return state.written
