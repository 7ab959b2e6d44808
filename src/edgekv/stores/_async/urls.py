"""A store URL names the central store: SQLite (a file, or `memory://`), PostgreSQL, Redis or
Redis Cluster, or another server over HTTP; `store_from_url` opens it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from edgekv import errors
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore


def store_from_url(
    url: str,
    *,
    clock: Callable[[], float] = time.time,
    token: str | None = None,
    account_id: str | None = None,
) -> AsyncStore:
    """Opens the store a URL names.

    `sqlite:///relative/kv.db` and `sqlite:////absolute/kv.db` as SQLAlchemy spells them, a bare
    path ending in .db or .sqlite, and `memory://` for a store that lives as long as the process.
    `http(s)://host:port` is an edgekv server and `https://api.cloudflare.com/client/v4` is
    Cloudflare (both with `token`, Cloudflare with `account_id`): see AsyncRestStore.
    """
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        from edgekv.stores.http._async.http_store import AsyncRestStore

        return AsyncRestStore(url, token=token, account_id=account_id)
    if scheme == "memory":
        return AsyncSQLiteStore(None, clock=clock)
    if scheme in ("postgresql", "postgres"):
        # Imported here: psycopg is the `postgres` extra, needed only by who uses it.
        from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore

        return AsyncPostgresStore(url, clock=clock)
    if scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        from edgekv.stores.redis._async.redis_store import AsyncRedisStore  # the `redis` extra

        return AsyncRedisStore(url, clock=clock)
    if scheme == "sqlite":
        path = unquote(urlsplit(url).path)
        if not path or path == "/":
            raise errors.BadRequest(f"store URL {url!r} names no file")
        # sqlite:///data/kv.db is relative; sqlite:////data/kv.db is absolute.
        return AsyncSQLiteStore(Path(path[1:]), clock=clock)
    if not scheme and url.endswith((".db", ".sqlite", ".sqlite3")):
        return AsyncSQLiteStore(Path(url), clock=clock)
    raise errors.BadRequest(
        f"unknown store URL {url!r}: use sqlite:///path/to/kv.db, memory://, postgresql://...,"
        " redis://..., redis+cluster://host:port,host:port or http(s)://host:port"
    )
