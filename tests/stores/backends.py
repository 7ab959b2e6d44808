"""The central stores the tests run against: PostgreSQL, Redis and a Redis Cluster of our own.

Each test session gets its own PostgreSQL schema and Redis key prefix, so runs (and engineers)
sharing a server never see each other's data; both are removed when the session ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit

from tests.services import require

POSTGRES_URL = os.environ.get(
    "EDGEKV_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("EDGEKV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

RUN = uuid.uuid4().hex[:10]
POSTGRES_SCHEMA = f"edgekv_test_{RUN}"
REDIS_PREFIX = f"edgekv-test-{RUN}"

_reachable: dict[str, bool] = {}


def _port_open(url: str, default_port: int) -> bool:
    if url not in _reachable:
        parts = urlsplit(url)
        try:
            with socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or default_port), 2
            ):
                _reachable[url] = True
        except OSError:
            _reachable[url] = False
    return _reachable[url]


_cleanups: list[str] = []


def postgres_url(schema: str = POSTGRES_SCHEMA) -> str:
    """The test database's URL with this session's schema; skips (fails on CI) without one."""
    require(_port_open(POSTGRES_URL, 5432), f"PostgreSQL at {POSTGRES_URL}")
    if "postgres" not in _cleanups:
        _cleanups.append("postgres")
        atexit.register(_drop_schemas)
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema={schema}"


def _drop_schemas() -> None:
    import psycopg

    with contextlib.suppress(Exception), psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"edgekv_test_{RUN}%",)
        ).fetchall()
        for (name,) in rows:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def redis_url() -> str:
    """The test Redis with this session's key prefix."""
    require(_port_open(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    if "redis" not in _cleanups:
        import redis  # noqa: F401  (now: at exit, its import can no longer register its own)

        _cleanups.append("redis")
        atexit.register(_drop_redis_keys)
    sep = "&" if "?" in REDIS_URL else "?"
    return f"{REDIS_URL}{sep}prefix={REDIS_PREFIX}"


def _drop_redis_keys() -> None:
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"*{REDIS_PREFIX}*", count=1000):
            client.delete(key)
        client.close()


_cluster: list[Any] = []


def redis_cluster_url() -> str:
    """A Redis Cluster of 3 masters started for this session (once), stopped at its end."""
    from tests import redis_cluster

    require(redis_cluster.available(), "redis-server and redis-cli (for a Redis Cluster)")
    if not _cluster:
        cluster = redis_cluster.start()
        atexit.register(cluster.stop)
        _cluster.append(cluster)
    return f"{_cluster[0].url}?prefix={REDIS_PREFIX}"


def redis_cluster_handle() -> Any:
    """The session's tests.redis_cluster.Cluster (started if need be)."""
    redis_cluster_url()
    return _cluster[0]
