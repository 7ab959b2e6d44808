"""One command on one node of a Redis Cluster, in each shell.

redis-py's async `ClusterNode` runs a command itself; its sync twin holds a `Redis` client for
the node (`redis_connection`). The async source names `AsyncNodeClient`, the generated sync
code `NodeClient` (scripts/unasync.py), as with `edgekv.concurrency`.
"""

from __future__ import annotations

from typing import Any


class AsyncNodeClient:
    @staticmethod
    async def call(node: Any, *command: Any) -> Any:
        return await node.execute_command(*command)


class NodeClient:
    @staticmethod
    def call(node: Any, *command: Any) -> Any:
        return node.redis_connection.execute_command(*command)
