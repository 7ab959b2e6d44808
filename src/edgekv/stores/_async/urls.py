"""A store URL names the central store: `sqlite:///path`, `memory://`, `postgresql://...`,
`redis://...`, `redis+cluster://...`, an edgekv server's or Cloudflare's `https://...`, or an
edgekv relay's `relay://...`.

PostgreSQL and Redis need their drivers, which are extras (`pip install 'edgekv[postgres]'`,
`'edgekv[redis]'`): a URL of theirs without its extra installed is a KVError naming the install
command, not a ModuleNotFoundError.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from edgekv import errors
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores.deadlines import Deadlines
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
    `relay://:SECRET@host:port` is an edgekv relay (AsyncRelayStore).
    """
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme in ("http", "https"):
        from edgekv.stores.http._async.http_store import AsyncRestStore

        return AsyncRestStore(url, token=token, account_id=account_id)
    if scheme in ("relay", "relays"):
        from edgekv.stores.relay._async.relay_store import AsyncRelayStore

        return AsyncRelayStore(url)
    if scheme == "memory":
        return AsyncSQLiteStore(None, clock=clock)
    if scheme in ("postgresql", "postgres"):
        # Imported here: psycopg is the `postgres` extra, needed only by who uses it.
        with _extra("postgres", scheme):
            from edgekv.stores.postgres._async.postgres_store import AsyncPostgresStore

        return AsyncPostgresStore(url, clock=clock)
    if scheme in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        with _extra("redis", scheme):
            from edgekv.stores.redis._async.redis_store import AsyncRedisStore

        return AsyncRedisStore(url, clock=clock)
    if scheme == "sqlite":
        parts = urlsplit(url)
        path = unquote(parts.path)
        if not path or path == "/":
            raise errors.BadRequest(f"store URL {url!r} names no file")
        deadlines = Deadlines.of(dict(parse_qsl(parts.query)))
        # sqlite:///data/kv.db is relative; sqlite:////data/kv.db is absolute.
        return AsyncSQLiteStore(Path(path[1:]), clock=clock, busy_timeout=deadlines.timeout)
    if not scheme and url.endswith((".db", ".sqlite", ".sqlite3")):
        return AsyncSQLiteStore(Path(url), clock=clock)
    raise errors.BadRequest(
        f"unknown store URL {url!r}: use sqlite:///path/to/kv.db, memory://, postgresql://...,"
        " redis://..., redis+cluster://host:port,host:port, http(s)://host:port or"
        " relay://:SECRET@host:port"
    )


# The modules each extra installs (pyproject.toml), as an import names them.
_EXTRAS = {"postgres": ("psycopg", "psycopg_pool"), "redis": ("redis", "hiredis", "msgpack")}


@contextlib.contextmanager
def _extra(extra: str, scheme: str) -> Iterator[None]:
    """A missing module of `extra` as a KVError that says how to install it."""
    try:
        yield
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in _EXTRAS[extra]:
            raise  # not the extra's: a bug, shown as it is
        raise errors.KVError(
            f"{scheme}:// URLs need the {extra} extra, which is not installed"
            f" (no module {e.name!r}): pip install 'edgekv[{extra}]'"
        ) from e
