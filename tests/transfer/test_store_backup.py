"""Backup through the change feed (stores without a snapshot of their own): writers go on during
the backup, and the restored store is as the source was at one position."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

import edgekv
from edgekv import AsyncStore, errors
from edgekv.model import EntryWrite
from edgekv.transfer import apply_restore, backup, plan_restore
from edgekv.transfer.store_backup import DeleteRecord, NamespaceRecord, PutRecord, Record
from tests.transfer.hooked import Hooked

FILLER = 3000  # keys between the two of a pair: a dump reads them in different batches


def _write(key: str, value: str) -> EntryWrite:
    data = value.encode()
    return EntryWrite(key, data, None, None, len(data))


async def _content(store: AsyncStore) -> dict[str, dict[str, str]]:
    """Every namespace's keys and values (values as text), by namespace title."""
    out: dict[str, dict[str, str]] = {}
    page = await store.list_namespaces(None, limit=1000)
    for ns in page.namespaces:
        keys: dict[str, str] = {}
        after = None
        while True:
            listed = await store.list_keys(ns.id, "", 1000, after)
            found = await store.get_many(ns.id, [k.name for k in listed.keys])
            keys.update(
                {k.name: e.value.decode() for k, e in zip(listed.keys, found, strict=True) if e}
            )
            if listed.complete:
                break
            after = listed.keys[-1].name
        out[f"{ns.account_id}/{ns.title}"] = keys
    return out


def _records(text: bytes) -> list[Record]:
    """The backup's lines as restore records (the CLI's reading is tested in tests/cli)."""
    records: list[Record] = []
    for line in text.decode().splitlines():
        value = json.loads(line)
        if "namespace" in value:
            ns = value["namespace"]
            records.append(
                NamespaceRecord(edgekv.NamespaceInfo(ns["id"], ns["title"], ns["account_id"]))
            )
        elif value.get("deleted"):
            records.append(DeleteRecord(value["ns"], value["key"]))
        elif "key" in value:
            records.append(PutRecord(value["ns"], _write(value["key"], value["value"])))
    return records


async def test_a_backup_while_writers_go_on_is_of_one_position() -> None:
    central = edgekv.AsyncSQLiteStore(None)  # memory: no file for SQLite's backup API
    account = edgekv.DEFAULT_ACCOUNT
    pairs = await central.create_namespace("PAIRS", account)
    await central.put_many(pairs.id, [_write(f"m{i:05}", "filler") for i in range(FILLER)])
    await central.put_many(pairs.id, [_write("a", "0"), _write("z", "0"), _write("doomed", "x")])

    async def another_writer(call: int) -> None:
        # While the dump is between "a" (read) and "z" (not yet): a pair changes in one atomic
        # write, a key goes, a namespace is born. Any one instant has a == z.
        if call == 3:
            await central.put_many(pairs.id, [_write("a", "1"), _write("z", "1")])
            await central.delete_many(pairs.id, ["doomed"])
            late = await central.create_namespace("LATE", account)
            await central.put(late.id, _write("born", "during the backup"))

    out = io.BytesIO()
    summary = await backup(Hooked(central, get_many=another_writer), out, settle=30)
    assert summary.snapshot == "change-feed" and summary.consistent
    lines = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert lines[0]["snapshot"] == "change-feed"
    assert lines[-1]["end"]["consistent"] is True
    values_of_a = [line["value"] for line in lines if line.get("key") == "a"]
    assert values_of_a == ["0", "1"]  # read before the write, then again from the feed

    restored = edgekv.AsyncSQLiteStore(None)
    records = _records(out.getvalue())
    namespaces = [r.info for r in records if isinstance(r, NamespaceRecord)]
    existing = await plan_restore(restored, namespaces)
    await apply_restore(restored, records, existing)
    content = await _content(restored)
    assert content == await _content(central)  # the source as it is now: writes stopped
    got = content[f"{account}/PAIRS"]
    assert (got["a"], got["z"]) == ("1", "1")
    assert "doomed" not in got and len(got) == FILLER + 2
    assert content[f"{account}/LATE"] == {"born": "during the backup"}
    await central.aclose()
    await restored.aclose()


async def test_a_backup_that_cannot_catch_up_says_so() -> None:
    central = edgekv.AsyncSQLiteStore(None)
    ns = await central.create_namespace("BUSY", edgekv.DEFAULT_ACCOUNT)
    await central.put_many(ns.id, [_write(f"k{i:05}", "v") for i in range(200)])

    async def never_quiet(call: int) -> None:
        await central.put(ns.id, _write("hot", str(call)))  # a write before every feed read

    summary = await backup(Hooked(central, changes=never_quiet), io.BytesIO(), settle=0.2)
    assert summary.consistent is False  # each key at least as new as the position, it says
    await central.aclose()


async def test_a_server_is_not_a_store_to_back_up_or_restore() -> None:
    from edgekv.stores.http._async.http_store import AsyncRestStore

    rest = AsyncRestStore("http://127.0.0.1:9", token="t")
    with pytest.raises(errors.BadRequest, match="reads a store, not a server"):
        await backup(rest, io.BytesIO())
    with pytest.raises(errors.BadRequest, match="writes a store, not a server"):
        await plan_restore(rest, [])
    await rest.aclose()


async def test_postgres_backs_up_through_its_feed(tmp_path: Path) -> None:
    from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore
    from tests.stores.backends import postgres_url

    store = AsyncPostgresStore(postgres_url())
    try:
        ns = await store.create_namespace(f"PG-{uuid.uuid4().hex[:8]}", edgekv.DEFAULT_ACCOUNT)
        await store.put_many(ns.id, [_write(f"k{i:04}", str(i)) for i in range(1200)])
        out = io.BytesIO()
        summary = await backup(store, out)
        assert summary.snapshot == "change-feed" and summary.consistent
        text = out.getvalue().decode()
        assert f'"ns":"{ns.id}","key":"k1199","value":"1199"' in text
    finally:
        await store.aclose()
