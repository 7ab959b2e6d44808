"""edgekv: Workers KV that you run yourself.

`AsyncKV` and `KV` mirror the Workers KV binding over a store named by URL
(`sqlite:///./data/kv.db`, `memory://`).
"""

from edgekv._async.kv import AsyncKV, AsyncNamespace
from edgekv._async.sqlite import AsyncSQLiteStore
from edgekv._async.store import AsyncStore
from edgekv._sync.kv import KV, Namespace
from edgekv._sync.sqlite import SQLiteStore
from edgekv._sync.store import Store
from edgekv.errors import (
    BadRequest,
    KeyNotFound,
    KVError,
    NamespaceNotFound,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
)
from edgekv.model import (
    DEFAULT_ACCOUNT,
    BulkResult,
    KeyInfo,
    ListResult,
    NamespaceInfo,
    NamespacePage,
    ValueWithMetadata,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ACCOUNT",
    "KV",
    "AsyncKV",
    "AsyncNamespace",
    "AsyncSQLiteStore",
    "AsyncStore",
    "BadRequest",
    "BulkResult",
    "KVError",
    "KeyInfo",
    "KeyNotFound",
    "ListResult",
    "Namespace",
    "NamespaceInfo",
    "NamespaceNotFound",
    "NamespacePage",
    "NotFound",
    "PreconditionFailed",
    "SQLiteStore",
    "Store",
    "StoreUnavailable",
    "ValueWithMetadata",
    "__version__",
]
