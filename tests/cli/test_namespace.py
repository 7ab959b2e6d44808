"""`edgekv kv namespace create|list|rename|delete`."""

from __future__ import annotations

import re

from tests.cli.conftest import CLI, create_namespace


def test_namespace_lifecycle(cli: CLI, data: list[str]) -> None:
    created = cli.run("kv", "namespace", "create", "my-cache", *data).text
    assert 'Creating namespace with title "my-cache"' in created
    new_id = re.search(r'"id": "([0-9a-f]{32})"', created)
    assert new_id is not None, created
    assert '"binding": "my_cache"' in created  # wrangler's snippet, with a valid binding name
    cli.run("kv", "namespace", "create", "another", *data)

    listed = cli.run("kv", "namespace", "list", *data).json()
    assert listed == [
        {"id": listed[0]["id"], "title": "another", "supports_url_encoding": True},
        {"id": new_id.group(1), "title": "my-cache", "supports_url_encoding": True},
    ]

    err = cli.fail("kv", "namespace", "create", "my-cache", *data)
    assert 'A KV namespace with the title "my-cache" already exists.' in err

    renamed = cli.run("kv", "namespace", "rename", "my-cache", "--new-name", "renamed", *data)
    assert '✨ Successfully renamed namespace to "renamed"' in renamed.text
    cli.run(
        "kv", "namespace", "rename", "--namespace-id", new_id.group(1), "--new-name", "r2", *data
    )
    err = cli.fail("kv", "namespace", "rename", "my-cache", "--new-name", "x", *data)
    assert 'No namespace found with the name "my-cache"' in err
    err = cli.fail(
        "kv", "namespace", "rename", "r2", "--namespace-id", "abc", "--new-name", "x", *data
    )
    assert "Cannot specify both" in err

    # A duplicate title on rename is refused with the contract's code-10014 message.
    err = cli.fail("kv", "namespace", "rename", "r2", "--new-name", "another", *data)
    assert "already exists" in err

    deleted = cli.run("kv", "namespace", "delete", "--namespace-id", new_id.group(1), "-y", *data)
    assert f'Deleted KV namespace "r2" (id: "{new_id.group(1)}").' in deleted.text
    # By title; with no terminal to ask on, only with --force (test_failing_cleanly.py).
    cli.run("kv", "namespace", "delete", "another", "--force", *data)
    assert cli.run("kv", "namespace", "list", *data).json() == []

    err = cli.fail("kv", "namespace", "delete", "--namespace-id", new_id.group(1), "-y", *data)
    assert "namespace not found" in err
    err = cli.fail("kv", "namespace", "delete", *data)
    assert "Must specify one of" in err


def test_namespace_delete_removes_its_keys(cli: CLI, data: list[str]) -> None:
    ns = create_namespace(cli, data)
    cli.run("kv", "key", "put", "k", "v", "--namespace-id", ns, *data)
    cli.run("kv", "namespace", "delete", "--namespace-id", ns, "-y", *data)
    again = create_namespace(cli, data)
    assert cli.run("kv", "key", "list", "--namespace-id", again, *data).json() == []


def test_account_id_scopes_namespaces(cli: CLI, data: list[str]) -> None:
    other = "a" * 32
    cli.run("kv", "namespace", "create", "theirs", "--account-id", other, *data)
    assert cli.run("kv", "namespace", "list", *data).json() == []
    cli.env["EDGEKV_ACCOUNT_ID"] = other
    assert [n["title"] for n in cli.run("kv", "namespace", "list", *data).json()] == ["theirs"]
    cli.run("kv", "key", "put", "k", "v", "--namespace", "theirs", *data)
    del cli.env["EDGEKV_ACCOUNT_ID"]
    assert "No namespace found" in cli.fail("kv", "key", "get", "k", "--namespace", "theirs", *data)


CLOUDFLARE_ID = "0f2ac74b498b48028cb68387c421e279"  # as a wrangler.toml written for Cloudflare has


def test_create_with_the_id_a_wrangler_toml_already_names(cli: CLI, data: list[str]) -> None:
    (cli.cwd / "wrangler.toml").write_text(
        f'name = "app"\nkv_namespaces = [{{ binding = "CACHE", id = "{CLOUDFLARE_ID}" }}]\n'
    )
    err = cli.fail("kv", "key", "put", "k", "v", "--binding", "CACHE", *data)
    assert f'no namespace with id "{CLOUDFLARE_ID}" (binding "CACHE" in' in err

    created = cli.run(
        "kv", "namespace", "create", "CACHE", "--namespace-id", CLOUDFLARE_ID, *data
    ).text
    assert f'id = "{CLOUDFLARE_ID}"' in created  # the snippet names the id the config has
    cli.run("kv", "key", "put", "k", "cached", "--binding", "CACHE", *data)
    assert cli.run("kv", "key", "get", "k", "--binding", "CACHE", *data).out == b"cached"
    assert cli.run("kv", "key", "get", "k", "--namespace-id", CLOUDFLARE_ID, *data).out == (
        b"cached"
    )
    assert cli.run("kv", "namespace", "list", *data).json() == [
        {"id": CLOUDFLARE_ID, "title": "CACHE", "supports_url_encoding": True}
    ]

    err = cli.fail("kv", "namespace", "create", "OTHER", "--namespace-id", CLOUDFLARE_ID, *data)
    assert f"A namespace with the id {CLOUDFLARE_ID} already exists." in err
    err = cli.fail(
        "kv", "namespace", "create", "BAD", "--namespace-id", CLOUDFLARE_ID.upper(), *data
    )
    assert "A namespace id is 32 lowercase hexadecimal digits" in err
    assert len(cli.run("kv", "namespace", "list", *data).json()) == 1


def test_create_help_shows_the_namespace_id_option(cli: CLI) -> None:
    shown = cli.run("kv", "namespace", "create", "--help").text
    assert "--namespace-id ID" in shown
    assert "wrangler.toml" in shown


def test_a_preview_namespace_is_what_a_bindings_preview_id_names(cli: CLI, data: list[str]) -> None:
    created = cli.run("kv", "namespace", "create", "SESSIONS", "--preview", *data).text
    assert 'Creating namespace with title "SESSIONS_preview"' in created
    preview_id = re.search(r'"preview_id": "([0-9a-f]{32})"', created)
    assert preview_id is not None, created
    production = cli.run("kv", "namespace", "create", "SESSIONS", "--env", "production", *data)
    assert 'title "production-SESSIONS"' in production.text
    assert 'configuration file in the "production" environment:' in production.text
    prod_id = re.search(r'"id": "([0-9a-f]{32})"', production.text)
    assert prod_id is not None
    (cli.cwd / "wrangler.toml").write_text(
        '[[kv_namespaces]]\nbinding = "SESSIONS"\n'
        f'id = "{prod_id.group(1)}"\npreview_id = "{preview_id.group(1)}"\n'
    )
    cli.run("kv", "key", "put", "k", "preview", "--binding", "SESSIONS", "--preview", *data)
    assert cli.run("kv", "key", "get", "k", "--namespace", "SESSIONS_preview", *data).out == (
        b"preview"
    )
    production_get = ["kv", "key", "get", "k", "--binding", "SESSIONS", "--no-preview", *data]
    assert "key not found" in cli.fail(*production_get)  # not in production's namespace
