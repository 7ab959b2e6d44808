"""The namespace registry's SQL, shared by the SQLite and PostgreSQL stores (I/O-free).

Both keep namespaces in a `namespaces` table whose deleted rows stay as tombstones (their feed
entries still name them); the dialects differ only in the parameter mark and in how a title is
ordered by bytes (`COLLATE "C"` in PostgreSQL; SQLite's default BINARY collation already is).
"""

from __future__ import annotations

from typing import Literal

COLUMNS = "id, title, account_id"
LIVE = "deleted_at IS NULL"


def page_queries(
    table: str,
    account_id: str | None,
    order: Literal["id", "title"],
    direction: Literal["asc", "desc"],
    mark: str,
    collate: str = "",
) -> tuple[str, str, list[object]]:
    """(count query, page query, parameters before LIMIT and OFFSET) for one page of namespaces."""
    column = "title" if order == "title" else "id"
    way = "DESC" if direction == "desc" else "ASC"
    where = f"WHERE {LIVE}"
    params: list[object] = []
    if account_id is not None:
        where, params = f"{where} AND account_id = {mark}", [account_id]
    count = f"SELECT count(*) FROM {table} {where}"
    page = (
        f"SELECT {COLUMNS} FROM {table} {where}"
        f" ORDER BY {column}{collate} {way}, id {way} LIMIT {mark} OFFSET {mark}"
    )
    return count, page, params
