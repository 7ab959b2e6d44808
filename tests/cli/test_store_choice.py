"""Which store and namespace a command uses: flags, env vars, the per-user default, and
`--binding` through a project's wrangler.toml / wrangler.jsonc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekv.cli import store_choice as config
from tests.cli.conftest import CLI, create_namespace


def test_default_store_is_kv_db_in_the_per_user_data_dir(cli: CLI) -> None:
    cli.run("kv", "namespace", "create", "default")  # no flags, no env
    assert (cli.home / "xdg" / "edgekv" / "kv.db").is_file()
    assert cli.run("kv", "namespace", "list").json()[0]["title"] == "default"
    # `--data-dir` elsewhere is another store; the default one is unchanged.
    assert cli.run("kv", "namespace", "list", "--data-dir", str(cli.cwd)).json() == []

    cli.env["XDG_DATA_HOME"] = ""  # unset: platformdirs falls back to ~/.local/share
    cli.run("kv", "namespace", "create", "home")
    assert (cli.home / ".local" / "share" / "edgekv" / "kv.db").is_file()


def test_env_vars_choose_the_store(cli: CLI, tmp_path: Path) -> None:
    cli.env["EDGEKV_DATA_DIR"] = str(tmp_path / "env-dir")
    ns = create_namespace(cli, [], "from-env-dir")
    assert (tmp_path / "env-dir" / "kv.db").is_file()

    url = f"sqlite:///{tmp_path / 'url store' / 'other.db'}"
    cli.env["EDGEKV_STORE"] = url  # beats EDGEKV_DATA_DIR
    create_namespace(cli, [], "from-env-store")
    assert (tmp_path / "url store" / "other.db").is_file()
    assert [n["title"] for n in cli.run("kv", "namespace", "list").json()] == ["from-env-store"]

    # Flags beat the environment.
    titles = cli.run("kv", "namespace", "list", "--data-dir", str(tmp_path / "env-dir")).json()
    assert [n["id"] for n in titles] == [ns]
    err = cli.fail("kv", "namespace", "list", "--store", "nosuch://x")
    assert "unknown store URL" in err
    err = cli.fail("kv", "namespace", "list", "--store", url, "--data-dir", str(tmp_path))
    assert "Use --store or --data-dir, not both." in err


def test_resolve_store_url_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.default_data_dir() == tmp_path / "xdg" / "edgekv"
    assert config.default_store_url() == f"sqlite:///{tmp_path}/xdg/edgekv/kv.db"
    env = {"EDGEKV_STORE": "memory://", "EDGEKV_DATA_DIR": "/srv/kv"}
    assert config.resolve_store_url(environ=env) == "memory://"
    assert config.resolve_store_url(environ={"EDGEKV_DATA_DIR": "/srv/kv"}) == (
        "sqlite:////srv/kv/kv.db"
    )
    assert config.resolve_store_url(data_dir="/d", environ=env) == "sqlite:////d/kv.db"
    assert config.resolve_store_url(store="memory://", environ=env) == "memory://"
    assert config.resolve_store_url(environ={}) == config.default_store_url()
    assert config.sqlite_url("/a b/#?.db") == "sqlite:////a%20b/%23%3F.db"


def test_binding_through_wrangler_toml(cli: CLI, data: list[str]) -> None:
    prod = create_namespace(cli, data, "prod")
    staging = create_namespace(cli, data, "staging")
    (cli.cwd / "wrangler.toml").write_text(
        'name = "app"\n'
        f'kv_namespaces = [{{ binding = "CACHE", id = "{prod}" }}]\n'
        "[env.staging]\n"
        f'kv_namespaces = [{{ binding = "CACHE", id = "{staging}" }}]\n'
    )
    cli.run("kv", "key", "put", "k", "prod value", "--binding", "CACHE", *data)
    cli.run("kv", "key", "put", "k", "staging value", "--binding", "CACHE", "-e", "staging", *data)
    assert cli.run("kv", "key", "get", "k", "--namespace-id", prod, *data).out == b"prod value"
    assert cli.run("kv", "key", "get", "k", "--namespace", "staging", *data).out == (
        b"staging value"
    )
    # Found from a subdirectory too, as wrangler finds it.
    sub = cli.cwd / "src" / "deep"
    sub.mkdir(parents=True)
    assert cli.run("kv", "key", "get", "k", "--binding", "CACHE", *data, cwd=sub).out == (
        b"prod value"
    )
    # `namespace create` prints its snippet in the project's config format.
    created = cli.run("kv", "namespace", "create", "new one", *data).text
    assert '[[kv_namespaces]]\nbinding = "new_one"\nid = "' in created

    err = cli.fail("kv", "key", "get", "k", "--binding", "NOPE", *data)
    assert 'A namespace with binding name "NOPE" was not found' in err
    err = cli.fail("kv", "key", "get", "k", "--binding", "CACHE", "-e", "qa", *data)
    assert 'No environment "qa"' in err
    err = cli.fail("kv", "key", "get", "k", "--binding", "CACHE", *data, cwd=cli.home.parent)
    assert "--binding specified, but no config file was found" in err

    # An id copied from Cloudflare that this store does not have: said plainly.
    (cli.cwd / "wrangler.toml").write_text('kv_namespaces = [{ binding = "KV", id = "abc123" }]')
    err = cli.fail("kv", "key", "get", "k", "--binding", "KV", *data)
    assert 'no namespace with id "abc123" (binding "KV" in' in err
    (cli.cwd / "wrangler.toml").write_text("kv_namespaces = [ broken")
    assert "wrangler.toml" in cli.fail("kv", "key", "get", "k", "--binding", "KV", *data)


def test_binding_through_wrangler_jsonc(cli: CLI, data: list[str]) -> None:
    main = create_namespace(cli, data, "main")
    preview = create_namespace(cli, data, "preview")
    (cli.cwd / "wrangler.jsonc").write_text(
        "// the project's config, as wrangler accepts it\n"
        "{\n"
        '  "name": "app", /* inline comment */\n'
        '  "compatibility_date": "2025-01-01", // a "quoted // not-a-comment" follows\n'
        '  "vars": {"URL": "http://example.com/*not a comment*/"},\n'
        '  "kv_namespaces": [\n'
        f'    {{ "binding": "KV", "id": "{main}", "preview_id": "{preview}", }},\n'
        f'    {{ "binding": "ONLY_PREVIEW", "preview_id": "{preview}" }},\n'
        "  ],\n"
        "}\n"
    )
    cli.run(
        "kv",
        "bulk",
        "put",
        "-",
        "--binding",
        "KV",
        "--no-preview",
        *data,
        input='[{"key": "k", "value": "main"}]',
    )
    cli.run("kv", "key", "put", "k", "preview", "--binding", "KV", "--preview", *data)
    assert cli.run("kv", "key", "get", "k", "--namespace-id", main, *data).out == b"main"
    assert cli.run("kv", "key", "get", "k", "--binding", "ONLY_PREVIEW", *data).out == b"preview"
    listed = cli.run("kv", "key", "list", "--binding", "KV", "--preview", *data).json()
    assert listed == [{"name": "k"}]
    err = cli.fail("kv", "key", "get", "k", "--binding", "KV", *data)
    assert 'KV has both a namespace ID and a preview ID. Specify "--preview"' in err
    err = cli.fail("kv", "namespace", "delete", "--binding", "ONLY_PREVIEW", "--no-preview", *data)
    assert "No namespace ID found for ONLY_PREVIEW" in err

    # wrangler.json beats wrangler.jsonc in the same directory; --config picks any file.
    (cli.cwd / "wrangler.json").write_text(json.dumps({"kv_namespaces": []}))
    assert "No KV Namespaces configured!" in cli.fail(
        "kv", "key", "get", "k", "--binding", "KV", *data
    )
    got = cli.run(
        "kv", "key", "get", "k", "--binding", "KV", "--preview", "-c", "wrangler.jsonc", *data
    )
    assert got.out == b"preview"
