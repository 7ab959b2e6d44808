"""`edgekv kv namespace create|list|rename|delete`, shaped like `wrangler kv namespace`."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from edgekv import errors
from edgekv.cli.common import (
    CLIError,
    account_option,
    confirm,
    emit_json,
    namespace_options,
    open_kv,
    resolve_namespace,
    store_options,
)
from edgekv.cli.wrangler_config import find_config

PAGE = 1000


@click.group()
def namespace() -> None:
    """Create, list, rename and delete namespaces."""


@namespace.command()
@click.argument("name")
@click.option(
    "--namespace-id",
    metavar="ID",
    help="Give the namespace this id (32 lowercase hex digits), e.g. the id a wrangler.toml "
    "already names for a Cloudflare namespace, so that config works against edgekv unchanged. "
    "An id some namespace has (or a deleted one had) is refused. edgekv only: Cloudflare "
    "always chooses the id.",
)
@click.option(
    "--preview",
    is_flag=True,
    help="A preview namespace, as wrangler makes one: titled NAME_preview, printed as the "
    "binding's preview_id.",
)
@click.option(
    "--env",
    "-e",
    metavar="ENV",
    help="As wrangler: the title starts with ENV- and the snippet is for that environment.",
)
@account_option
@store_options
def create(name: str, namespace_id: str | None, preview: bool, env: str | None) -> None:
    """Create a namespace called NAME and print its id (wrangler's title: [ENV-]NAME[_preview]).

    \b
    To reuse the ids of an existing wrangler.toml:
      edgekv kv namespace create CACHE --namespace-id 0f2ac74b498b48028cb68387c421e279
    """
    title = f"{env}-" if env else ""
    title += f"{name}_preview" if preview else name
    with open_kv() as kv:
        click.echo(f'🌀 Creating namespace with title "{title}"')
        try:
            created = kv.create_namespace(title, id=namespace_id)
        except errors.DuplicateNamespaceTitle:
            raise CLIError(
                f'A KV namespace with the title "{title}" already exists.\n\n'
                "You can list existing namespaces with their IDs by running:\n"
                "  edgekv kv namespace list\n\n"
                "Or choose a different namespace name."
            ) from None
    click.echo("✨ Success!")
    where = f' in the "{env}" environment' if env else ""
    click.echo(
        "To access your new KV Namespace in your Worker, add the following snippet to your "
        f"configuration file{where}:"
    )
    click.echo(_snippet(binding_name(name), "preview_id" if preview else "id", created.id))


def _snippet(binding: str, field: str, namespace_id: str) -> str:
    """The kv_namespaces entry, in the format of the config file found (wrangler's choice)."""
    config = find_config()
    if config is not None and config.suffix == ".toml":
        return (
            f"[[kv_namespaces]]\nbinding = {json.dumps(binding)}\n"
            f"{field} = {json.dumps(namespace_id)}"
        )
    return json.dumps({"kv_namespaces": [{"binding": binding, field: namespace_id}]}, indent=2)


def binding_name(title: str, fallback: str = "KV") -> str:
    """A valid binding name made from a title, as wrangler makes one."""
    name = re.sub(r"[\s-]", "_", title)
    name = re.sub(r"[^a-zA-Z0-9_]", "", name)
    name = re.sub(r"_+", "_", name)
    if name[:1].isdigit():
        name = "_" + name
    return fallback if not name.strip("_") else name


@namespace.command("list")
@account_option
@store_options
def list_() -> None:
    """Print every namespace as a JSON array of {id, title, supports_url_encoding}."""
    found: list[dict[str, Any]] = []
    with open_kv() as kv:
        page = 1
        while True:
            batch = kv.list_namespaces(order="title", page=page, per_page=PAGE).namespaces
            found.extend(ns.as_json() for ns in batch)
            if len(batch) < PAGE:
                break
            page += 1
    emit_json(found)


@namespace.command()
@click.argument("old_name", required=False, metavar="[OLD_NAME]")
@click.option("--namespace-id", metavar="ID", help="The id of the namespace to rename.")
@click.option("--new-name", required=True, help="The new title.")
@account_option
@store_options
def rename(old_name: str | None, namespace_id: str | None, new_name: str) -> None:
    """Rename a namespace, named by its title OLD_NAME or by --namespace-id."""
    if bool(old_name) == bool(namespace_id):
        raise CLIError(
            "Cannot specify both old-name and --namespace-id. Use either old-name (as first "
            "argument) or --namespace-id flag, not both."
            if old_name
            else "Either old-name (as first argument) or --namespace-id must be specified"
        )
    with open_kv() as kv:
        if old_name:
            try:
                namespace_id = kv.store.find_namespace(kv.account_id, old_name).id
            except errors.NamespaceNotFound:
                raise CLIError(
                    f'No namespace found with the name "{old_name}". Use --namespace-id instead '
                    'or check available namespaces with "edgekv kv namespace list".'
                ) from None
        assert namespace_id is not None
        click.echo(f'Renaming KV namespace {namespace_id} to "{new_name}".')
        renamed = kv.rename_namespace(namespace_id, new_name)
    click.echo(f'✨ Successfully renamed namespace to "{renamed.title}"')


@namespace.command()
@click.argument("title", required=False, metavar="[TITLE]")
@click.option(
    "--skip-confirmation",
    "--force",
    "-y",
    is_flag=True,
    help="Do not ask before deleting (needed where edgekv cannot ask: no terminal).",
)
@namespace_options
@store_options
def delete(title: str | None, skip_confirmation: bool) -> None:
    """Delete a namespace and every key in it (by TITLE, --namespace-id or --binding)."""
    with open_kv() as kv:
        ns = resolve_namespace(kv, title=title)
        name = f'"{ns.title}" (id: "{ns.id}")'
        click.echo(
            f"About to delete KV namespace {name}.\n"
            "This action is irreversible and will permanently delete all data in the KV "
            "namespace.\n"
        )
        if not confirm("Ok to proceed?", skip_confirmation, "--force (or -y)"):
            click.echo("Not deleting.")
            return
        click.echo(f"Deleting KV namespace {name}.")
        kv.delete_namespace(ns.id)
    click.echo(f"Deleted KV namespace {name}.")
