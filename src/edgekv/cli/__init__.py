"""The `edgekv` command."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from edgekv import __version__
from edgekv.cli.account_token import account, token
from edgekv.cli.analytics import analytics
from edgekv.cli.audit import audit_command
from edgekv.cli.backup import backup, restore
from edgekv.cli.common import Group
from edgekv.cli.kv_group import kv
from edgekv.cli.serve import serve_command

# wrangler 3 spelled `kv namespace` as `kv:namespace` (seeds 001 and 002 still do).
WRANGLER3_SPELLINGS = {"kv:namespace": "namespace", "kv:key": "key", "kv:bulk": "bulk"}


class Main(Group):
    """The top-level group: also answers wrangler 3's `kv:` spellings (not listed in --help)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in WRANGLER3_SPELLINGS:
            return kv.commands[WRANGLER3_SPELLINGS[cmd_name]]
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader of stdout went away (`edgekv kv key list | head -1`): it has what it
            # wanted. Exit 0, quietly; stdout now goes nowhere, so the flush at exit cannot
            # fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekv")
@click.pass_context
def main(ctx: click.Context) -> None:
    """edgekv: Workers KV that you run yourself.

    wrangler 3's spellings work too: `edgekv kv:namespace create CACHE`, `kv:key`, `kv:bulk`.
    """
    if ctx.invoked_subcommand != "serve":
        # A command says what failed in one line (`✘ [ERROR] central store unavailable: ...`);
        # the stores' and drivers' warnings (each failed connection attempt, with addresses)
        # are for a server's log, not for a command's user.
        for name in ("edgekv", "psycopg", "redis", "httpx"):
            logging.getLogger(name).setLevel(logging.ERROR)


main.add_command(kv)
main.add_command(serve_command)
main.add_command(account)
main.add_command(token)
main.add_command(backup)
main.add_command(restore)
main.add_command(analytics)
main.add_command(audit_command)
