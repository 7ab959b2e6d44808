"""`edgekv kv`: Workers KV data from the command line, shaped like `wrangler kv`.

Output follows wrangler: JSON (two-space indent) where wrangler prints JSON, raw bytes for
`key get`, status lines elsewhere; errors as `✘ [ERROR] <message>` with exit code 1. Where a
command prints data (`namespace list`, `key list`, `key get`, `bulk get`), stdout carries only
the data and any status goes to stderr, so the output can be piped.
"""

from __future__ import annotations

import click

from edgekv.cli.common import Group
from edgekv.cli.kv_bulk import bulk
from edgekv.cli.kv_copy import copy, verify
from edgekv.cli.kv_export import export, import_
from edgekv.cli.kv_key import key
from edgekv.cli.kv_namespace import namespace


@click.group(cls=Group)
def kv() -> None:
    """Manage Workers KV namespaces and keys in an edgekv store."""


kv.add_command(namespace)
kv.add_command(key)
kv.add_command(bulk)
kv.add_command(export)
kv.add_command(import_)
kv.add_command(copy)
kv.add_command(verify)
