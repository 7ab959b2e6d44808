"""The `edgekv` command."""

from __future__ import annotations

import click

from edgekv import __version__
from edgekv.cli.common import Group
from edgekv.cli.kv import kv


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekv")
def main() -> None:
    """edgekv: Workers KV that you run yourself."""


main.add_command(kv)
