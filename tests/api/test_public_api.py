"""The public API is pinned: changing it means changing this list, deliberately."""

from __future__ import annotations

import edgekv

PUBLIC_API = sorted(
    [
        "AsyncKV",
        "AsyncNamespace",
        "AsyncSQLiteStore",
        "AsyncStore",
        "BadRequest",
        "BulkResult",
        "Capabilities",
        "DEFAULT_ACCOUNT",
        "KV",
        "KVError",
        "KeyInfo",
        "KeyNotFound",
        "ListResult",
        "Namespace",
        "NamespaceInfo",
        "NamespaceNotFound",
        "NamespacePage",
        "NamespaceUsage",
        "NotFound",
        "PreconditionFailed",
        "SQLiteStore",
        "Store",
        "StoreUnavailable",
        "ValueWithMetadata",
        "__version__",
    ]
)


def test_all_is_exactly_the_pinned_list() -> None:
    assert sorted(edgekv.__all__) == PUBLIC_API
    assert len(edgekv.__all__) == len(set(edgekv.__all__))


def test_every_public_name_exists() -> None:
    for name in edgekv.__all__:
        assert hasattr(edgekv, name), name


def test_star_import_gives_exactly_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from edgekv import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC_API
