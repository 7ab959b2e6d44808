"""The edgekv server: the REST API v4, the workerd KV protocol, accounts and tokens."""

from edgekv.server.app import create_app

__all__ = ["create_app"]
