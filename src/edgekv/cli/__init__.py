"""The `edgekv` command."""

from __future__ import annotations

import click

from edgekv import __version__
from edgekv.cli.account_token import account, token
from edgekv.cli.common import Group
from edgekv.cli.kv_group import kv
from edgekv.cli.serve import serve_command


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekv")
def main() -> None:
    """edgekv: Workers KV that you run yourself."""


main.add_command(kv)
main.add_command(serve_command)
main.add_command(account)
main.add_command(token)
