"""`edgekv account create|list` and `edgekv token create|list|revoke`.

Accounts and tokens live in the store itself (see edgekv.server.accounts), so these commands
take the store options of every command and act on what every server of that store sees.
`token create` prints the token alone on stdout, so `TOKEN=$(edgekv token create)` works; the
token is shown only then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from edgekv import errors
from edgekv.cli.common import Group, _opt, emit_json, info, store_options
from edgekv.cli.store_choice import resolve_store_url, with_connect_deadline
from edgekv.server.accounts import Accounts
from edgekv.stores._async.urls import store_from_url

T = TypeVar("T")


def _run(action: Callable[[Accounts], Awaitable[T]]) -> T:
    ctx = click.get_current_context()
    url = with_connect_deadline(resolve_store_url(_opt(ctx, "store"), _opt(ctx, "data_dir")))

    async def main() -> T:
        store = store_from_url(url)
        try:
            return await action(Accounts(store))
        finally:
            await store.aclose()

    return asyncio.run(main())


@click.group("account", cls=Group)
def account() -> None:
    """Accounts: namespaces belong to one, and a token opens one."""


@account.command("create")
@click.argument("name")
@store_options
def account_create(name: str) -> None:
    """Create an account named NAME; prints its id."""
    created = _run(lambda accounts: accounts.create_account(name))
    info(f"Created account {name!r}.")
    click.echo(created.id)


@account.command("list")
@store_options
def account_list() -> None:
    """List accounts as JSON (the default account is created on first use)."""

    async def both(accounts: Accounts) -> list[dict[str, Any]]:
        await accounts.default_account()
        return [a.as_json() for a in await accounts.list_accounts()]

    emit_json(_run(both))


@click.group("token", cls=Group)
def token() -> None:
    """API tokens for the REST API and the workerd protocol."""


@token.command("create")
@click.option(
    "--account",
    "account_id",
    metavar="ID",
    help="The account the token opens (default: the default account).",
)
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="ID_OR_TITLE",
    help="Limit the token to this namespace (repeatable).",
)
@click.option("--read-only", is_flag=True, help="The token may only read.")
@click.option("--name", default="", help="A note to recognise the token by in `token list`.")
@store_options
def token_create(
    account_id: str | None, namespaces: tuple[str, ...], read_only: bool, name: str
) -> None:
    """Create a token; prints the token alone on stdout (it is stored hashed, shown only once)."""

    async def create(accounts: Accounts) -> tuple[str, str, str]:
        account = await accounts.resolve_account(account_id)
        ids = [await _namespace_id(accounts, account.id, n) for n in namespaces]
        secret, made = await accounts.create_token(
            account.id, name=name, namespaces=ids or None, read_only=read_only
        )
        return secret, made.id, account.id

    secret, token_id, account = _run(create)
    scope = ("read-only" if read_only else "read-write") + (
        f", namespaces {', '.join(namespaces)}" if namespaces else ""
    )
    info(f"Created token {token_id} for account {account} ({scope}). It is shown only now:")
    click.echo(secret)


async def _namespace_id(accounts: Accounts, account_id: str, id_or_title: str) -> str:
    store = accounts.store
    try:
        found = await store.get_namespace(id_or_title)
        if found.account_id == account_id:
            return found.id
    except errors.NamespaceNotFound:
        pass
    try:
        return (await store.find_namespace(account_id, id_or_title)).id
    except errors.NamespaceNotFound:
        raise errors.NamespaceNotFound(
            f"namespace not found: no namespace {id_or_title!r} in account {account_id}"
        ) from None


@token.command("list")
@click.option("--account", "account_id", metavar="ID", help="Only this account's tokens.")
@store_options
def token_list(account_id: str | None) -> None:
    """List tokens as JSON: ids and scopes, never the tokens."""
    tokens = _run(lambda accounts: accounts.list_tokens(account_id))
    emit_json([t.as_json() for t in tokens])


@token.command("revoke")
@click.argument("token_id")
@store_options
def token_revoke(token_id: str) -> None:
    """Revoke the token with id TOKEN_ID; every server of the store refuses it at once."""
    revoked = _run(lambda accounts: accounts.revoke_token(token_id))
    info(f"Revoked token {revoked.id} of account {revoked.account_id}.")
