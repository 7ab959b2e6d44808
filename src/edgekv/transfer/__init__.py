"""Moving data in and out: export and import (JSON Lines), copy between any two stores or
servers (with `watch` to follow the source's change feed), and backup and restore of a whole
store. Every walk is page by page, so memory does not grow with the number of keys.

The functions are async (they take `AsyncStore`s); the `edgekv` command runs them.
"""

from edgekv.transfer.copy import (
    CopySummary,
    NamespacePair,
    copy_namespace,
    has_change_feed,
    match_namespaces,
    verify_namespace,
    watch,
)
from edgekv.transfer.entries import Entry, entries
from edgekv.transfer.lines import entry_line
from edgekv.transfer.store_backup import (
    BackupSummary,
    Record,
    RestoreSummary,
    apply_restore,
    backup,
    plan_restore,
)
from edgekv.transfer.writer import Writer

__all__ = [
    "BackupSummary",
    "CopySummary",
    "Entry",
    "NamespacePair",
    "Record",
    "RestoreSummary",
    "Writer",
    "apply_restore",
    "backup",
    "copy_namespace",
    "entries",
    "entry_line",
    "has_change_feed",
    "match_namespaces",
    "plan_restore",
    "verify_namespace",
    "watch",
]
