"""`edgekv account create|list` and `edgekv token create|list|revoke` over a real store file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from edgekv.cli import main
from edgekv.model import DEFAULT_ACCOUNT
from edgekv.server.accounts import Accounts, Token
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore


def run(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def verify(data_dir: Path, secret: str) -> Token | None:
    async def check() -> Token | None:
        store = AsyncSQLiteStore(data_dir / "kv.db")
        try:
            return await Accounts(store).verify(secret)
        finally:
            await store.aclose()

    return asyncio.run(check())


def test_accounts(tmp_path: Path) -> None:
    created = run(tmp_path, "account", "create", "acme").strip()
    assert len(created) == 32 and int(created, 16) >= 0
    listed = json.loads(run(tmp_path, "account", "list"))
    assert {a["id"]: a["name"] for a in listed} == {DEFAULT_ACCOUNT: "default", created: "acme"}


def test_token_create_prints_only_the_token(tmp_path: Path) -> None:
    secret = run(tmp_path, "token", "create")
    assert secret.endswith("\n") and "\n" not in secret.strip() and secret.startswith("ekv_")
    token = verify(tmp_path, secret.strip())
    assert token is not None and token.account_id == DEFAULT_ACCOUNT
    assert token.namespaces is None and token.read_only is False


def test_token_scopes_list_and_revoke(tmp_path: Path) -> None:
    account = run(tmp_path, "account", "create", "acme").strip()
    run(tmp_path, "kv", "namespace", "create", "first")  # in the default account
    default_ns = json.loads(run(tmp_path, "kv", "namespace", "list"))[0]["id"]
    secret = run(
        tmp_path, "token", "create", "--namespace", "first", "--read-only", "--name", "ci"
    ).strip()
    token = verify(tmp_path, secret)
    assert token is not None and token.namespaces == [default_ns] and token.read_only
    other = run(tmp_path, "token", "create", "--account", account).strip()
    listed = json.loads(run(tmp_path, "token", "list"))
    assert {t["id"] for t in listed} == {token.id, verify(tmp_path, other).id}  # type: ignore[union-attr]
    assert secret not in json.dumps(listed) and "hash" not in listed[0]
    mine = json.loads(run(tmp_path, "token", "list", "--account", account))
    assert [t["account_id"] for t in mine] == [account]
    run(tmp_path, "token", "revoke", token.id)
    assert verify(tmp_path, secret) is None
    assert verify(tmp_path, other) is not None


def test_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(
        main, ["token", "create", "--account", "f" * 32, "--data-dir", str(tmp_path)]
    )
    assert unknown.exit_code == 1 and "No account" in unknown.stderr
    missing = runner.invoke(
        main, ["token", "create", "--namespace", "nope", "--data-dir", str(tmp_path)]
    )
    assert missing.exit_code == 1 and "namespace not found" in missing.stderr
    revoke = runner.invoke(main, ["token", "revoke", "abc", "--data-dir", str(tmp_path)])
    assert revoke.exit_code == 1 and "No token" in revoke.stderr
