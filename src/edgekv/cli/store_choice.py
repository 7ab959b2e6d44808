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
from urllib.parse import quote

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
