"""`edgekv serve` with its value routes reached through the router: the same app and handler,
served exactly as `edgekv serve` serves them (edgekv.server.run.serve), but without the app
entering the value routes before Starlette's middleware and router (`values_before_router`).
bench_server runs it beside `edgekv serve` to show what entering them first gains.

usage: python -m benchmarks.server_routed DATA_DIR  (prints `listening on http://H:P`)
"""

from __future__ import annotations

import sys

from edgekv.cli.serve import parse_size
from edgekv.cli.store_choice import data_dir_store_url
from edgekv.server.app import create_app
from edgekv.server.run import serve

CACHE_SIZE = "64MB"  # `edgekv serve`'s default


def main() -> None:
    app = create_app(
        data_dir_store_url(sys.argv[1]),
        cache_size=parse_size(CACHE_SIZE),
        values_before_router=False,
    )

    def listening(host: str, bound: int) -> None:
        print(f"listening on http://{host}:{bound}", flush=True)

    serve(app, "127.0.0.1", 0, on_listening=listening, graceful_timeout=5)


if __name__ == "__main__":
    main()
