"""edgekv: Workers KV that you run yourself.

`AsyncKV` and `KV` mirror the Workers KV binding over a store named by URL
(`sqlite:///./data/kv.db`, `memory://`).
"""

from edgekv.api._async.kv import AsyncKV, AsyncNamespace
from edgekv.api._sync.kv import KV, Namespace
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
    NamespaceUsage,
    ValueWithMetadata,
)
from edgekv.stores._async.protocol import AsyncStore
from edgekv.stores._sync.protocol import Store
from edgekv.stores.capabilities import Capabilities
from edgekv.stores.sqlite._async.sqlite_store import AsyncSQLiteStore
from edgekv.stores.sqlite._sync.sqlite_store import SQLiteStore

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
    "Capabilities",
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
