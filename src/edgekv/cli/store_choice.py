"""Where edgekv keeps its data when nobody says otherwise, and how a store is chosen.

The CLI (`edgekv kv ...`) and the server (`edgekv serve`) both call `resolve_store_url`, so with
no flags and no environment they open the same SQLite file: `kv.db` in the per-user data dir
(`~/.local/share/edgekv` on Linux, honouring `XDG_DATA_HOME`; the platform's equivalent
elsewhere, via platformdirs).

Precedence, first wins: `--store URL`, `--data-dir DIR`, `EDGEKV_STORE`, `EDGEKV_DATA_DIR`, the
default data dir.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import platformdirs

from edgekv import errors

APP_NAME = "edgekv"
STORE_ENV = "EDGEKV_STORE"
DATA_DIR_ENV = "EDGEKV_DATA_DIR"
DB_FILE = "kv.db"


def default_data_dir() -> Path:
    """The per-user data dir (not created here: the store creates it on first write)."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The store URL of a SQLite file, absolute, so it means the same from any directory."""
    # Quoted: the store URL parser unquotes, and a `?` or `#` in a directory name must survive.
    return "sqlite:///" + quote(Path(path).expanduser().resolve().as_posix(), safe="/:")


def data_dir_store_url(data_dir: str | os.PathLike[str]) -> str:
    return sqlite_url(Path(data_dir).expanduser() / DB_FILE)


def default_store_url() -> str:
    """`sqlite:////home/me/.local/share/edgekv/kv.db` or the platform's equivalent."""
    return data_dir_store_url(default_data_dir())


def resolve_store_url(
    store: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The store URL that flags, then environment, then the default name."""
    if store and data_dir:
        raise errors.BadRequest("Use --store or --data-dir, not both.")
    if store:
        return store
    if data_dir:
        return data_dir_store_url(data_dir)
    env = os.environ if environ is None else environ
    if env.get(STORE_ENV):
        return env[STORE_ENV]
    if env.get(DATA_DIR_ENV):
        return data_dir_store_url(env[DATA_DIR_ENV])
    return default_store_url()


# The CLI waits so long for a central store before saying it is unavailable, where the URL does
# not say otherwise: a command against an unreachable server fails in seconds, not in the
# driver's default (libpq: none; the OS's connect timeout, minutes, for a black-holed host).
CONNECT_DEADLINE = 5
# And so long for one answer of Redis (a frozen server never answers).
REDIS_ANSWER_DEADLINE = 10


def with_connect_deadline(url: str) -> str:
    """The store URL with the CLI's connect deadline added, unless it names one itself."""
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    named = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    if scheme in ("postgresql", "postgres"):
        added = {"connect_timeout": CONNECT_DEADLINE}
    elif scheme in ("redis", "rediss"):
        added = {
            "socket_connect_timeout": CONNECT_DEADLINE,
            "socket_timeout": REDIS_ANSWER_DEADLINE,
        }
        if "connect_timeout" in named or "timeout" in named:
            return url  # the store's own deadline options
    else:
        return url
    extra = "&".join(f"{k}={v}" for k, v in added.items() if k not in named)
    if not extra:
        return url
    return f"{url}{'&' if '?' in url else '?'}{extra}"
