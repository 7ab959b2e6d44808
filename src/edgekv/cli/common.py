"""What every `edgekv kv` command shares: errors as wrangler prints them, the store options,
the namespace options, and opening the store and namespace they name."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from edgekv import DEFAULT_ACCOUNT, KV, Namespace, errors
from edgekv.cli.store_choice import resolve_store_url
from edgekv.cli.wrangler_config import resolve_binding

F = TypeVar("F", bound=Callable[..., Any])


class CLIError(click.ClickException):
    """A failure shown as wrangler shows one: `✘ [ERROR] <message>`, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"✘ [ERROR] {self.format_message()}", file=file or sys.stderr)


class Group(click.Group):
    """A group whose commands' edgekv errors become CLIErrors, with the contract's message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except errors.KVError as e:
            raise CLIError(e.message) from e
        except BrokenPipeError:
            raise  # stdout closed by its reader (`| head`): not an error (cli.main)
        except OSError as e:  # an unreadable file or data dir
            raise CLIError(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from e


def warn(message: str) -> None:
    click.echo(f"▲ [WARNING] {message}", err=True)


def info(message: str) -> None:
    """Progress and status for a human, on stderr: stdout carries only the data."""
    click.echo(message, err=True)


def emit_json(value: Any) -> None:
    """JSON as wrangler prints it (two-space indent, non-ASCII kept), as UTF-8 on stdout."""
    out = sys.stdout.buffer
    out.write(json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n")
    out.flush()


# Options are remembered in ctx.meta rather than passed as parameters, so a command's signature
# keeps only its own arguments.


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta[f"edgekv.{param.name}"] = value
    return value


def _opt(ctx: click.Context, name: str) -> Any:
    return ctx.meta.get(f"edgekv.{name}")


def _meta_option(*decls: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*decls, expose_value=False, callback=_remember, **kwargs)


def store_options(f: F) -> F:
    f = _meta_option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="Use the SQLite store kv.db in DIR (env EDGEKV_DATA_DIR).",
    )(f)
    return _meta_option(
        "--store",
        metavar="URL",
        help="Store URL, e.g. sqlite:///path/kv.db (env EDGEKV_STORE). "
        "Default: kv.db in the per-user data dir.",
    )(f)


def account_option(f: F) -> F:
    return _meta_option(
        "--account-id",
        metavar="ID",
        envvar="EDGEKV_ACCOUNT_ID",
        help="The account whose namespaces to use (env EDGEKV_ACCOUNT_ID; default: the "
        "default account).",
    )(f)


def namespace_options(f: F) -> F:
    """--namespace-id | --binding | --namespace, and wrangler's config selectors."""
    options = [
        _meta_option("--namespace-id", metavar="ID", help="The id of the namespace."),
        _meta_option(
            "--binding",
            metavar="NAME",
            help="The namespace bound to NAME in wrangler.json(c) / wrangler.toml.",
        ),
        _meta_option("--namespace", metavar="TITLE", help="The title of the namespace."),
        _meta_option(
            "--preview/--no-preview",
            default=None,
            help="With --binding: use its preview_id (--preview) or its id (--no-preview).",
        ),
        _meta_option("--env", "-e", metavar="ENV", help="With --binding: the env.ENV section."),
        _meta_option(
            "--config",
            "-c",
            type=click.Path(dir_okay=False, path_type=Path),
            help="With --binding: the wrangler config file "
            "(default: looked for from the current directory up).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return account_option(f)


def chosen_store_url() -> str:
    """The store URL the options (then the environment, then the default) name."""
    ctx = click.get_current_context()
    return resolve_store_url(_opt(ctx, "store"), _opt(ctx, "data_dir"))


def chosen_account_id() -> str:
    """The account `--account-id` (or EDGEKV_ACCOUNT_ID) names; the default account else."""
    return _opt(click.get_current_context(), "account_id") or DEFAULT_ACCOUNT


@contextmanager
def open_kv() -> Iterator[KV]:
    ctx = click.get_current_context()
    kv = KV(chosen_store_url(), account_id=_opt(ctx, "account_id") or DEFAULT_ACCOUNT)
    try:
        yield kv
    finally:
        kv.close()


def resolve_namespace(kv: KV, *, title: str | None = None) -> Namespace:
    """The namespace the options name; `title` is a positional title given by the command."""
    ctx = click.get_current_context()
    namespace_id, binding, by_title = (
        _opt(ctx, "namespace_id"),
        _opt(ctx, "binding"),
        _opt(ctx, "namespace") or title,
    )
    given = [x for x in (namespace_id, binding, by_title) if x]
    if len(given) != 1:
        raise CLIError(
            "Must specify one of: --namespace-id, --binding or --namespace"
            if not given
            else "Cannot specify more than one of: --namespace-id, --binding or --namespace."
        )
    if by_title:
        try:
            info = kv.store.find_namespace(kv.account_id, by_title)
        except errors.NamespaceNotFound:
            raise CLIError(
                f'No namespace found with the name "{by_title}". Use --namespace-id or '
                '--binding instead, or check available namespaces with "edgekv kv namespace list".'
            ) from None
        return Namespace(kv.store, info)
    where = ""
    if binding:
        target = resolve_binding(
            binding,
            config_path=_opt(ctx, "config"),
            env=_opt(ctx, "env"),
            preview=_opt(ctx, "preview"),
        )
        namespace_id = target.namespace_id
        where = f' (binding "{binding}" in {target.config_path})'
    try:
        info = kv.store.get_namespace(namespace_id)
    except errors.NamespaceNotFound:
        raise CLIError(
            f'namespace not found: no namespace with id "{namespace_id}"{where} in this store. '
            'Create one with "edgekv kv namespace create <title>" and use its id.'
        ) from None
    return Namespace(kv.store, info)


def confirm(question: str, skip: bool, flag: str, *, default: bool = True) -> bool:
    """Asks on a terminal (Enter answers `default`); elsewhere (a script, a pipe) refuses
    unless `flag` was given.

    wrangler answers yes when it cannot ask; a deletion nobody confirmed is not done here.
    """
    if skip:
        return True
    if sys.stdin.isatty():
        return click.confirm(question, default=default, err=True)
    raise CLIError(
        f"{question}\nNot deleting: stdin is not a terminal, so edgekv cannot ask. "
        f"Pass {flag} to delete without asking."
    )
