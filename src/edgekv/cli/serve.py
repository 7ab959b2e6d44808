"""`edgekv serve`: the REST API v4 and the workerd KV protocol over a store."""

from __future__ import annotations

import functools
import logging
import re
import sys
from pathlib import Path

import click

from edgekv.cli.store_choice import resolve_store_url
from edgekv.server.app import EdgeKVApp, create_app
from edgekv.server.cloudflare_limits import PLANS
from edgekv.server.run import echo_lines, is_loopback, serve, startup_lines
from edgekv.server.workers import Supervisor, workers_for

DEFAULT_PORT = 8787  # as `wrangler dev`
METRICS_HOST = "127.0.0.1"  # /metrics is for this machine only (docs/metrics.md)
_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def parse_size(text: str) -> int:
    """`64MB`, `1GB`, `512kb`, `1048576` (bytes); binary units, as memory is counted."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*", text, re.IGNORECASE)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a size like 64MB, 1GB or 0")
    unit = match[2].upper()
    return int(float(match[1]) * _UNITS[unit if unit.endswith("B") or not unit else unit + "B"])


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="EDGEKV_HOST",
    help="Address to listen on (env EDGEKV_HOST).",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=int,
    envvar="EDGEKV_PORT",
    help="Port to listen on; 0 picks a free one (env EDGEKV_PORT).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Use the SQLite store kv.db in DIR (env EDGEKV_DATA_DIR).",
)
@click.option(
    "--store",
    metavar="URL",
    help="Store URL, e.g. sqlite:///path/kv.db (env EDGEKV_STORE). "
    "Default: kv.db in the per-user data dir.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    envvar="EDGEKV_NO_AUTH",
    help="Serve without tokens: only on a loopback address (env EDGEKV_NO_AUTH).",
)
@click.option(
    "--workerd-port",
    type=int,
    envvar="EDGEKV_WORKERD_PORT",
    help="Also serve the workerd KV protocol on this port, with the contract's error "
    "messages as reason phrases (env EDGEKV_WORKERD_PORT).",
)
@click.option(
    "--access-log",
    is_flag=True,
    envvar="EDGEKV_ACCESS_LOG",
    help="Log every request as a JSON line on stderr (env EDGEKV_ACCESS_LOG).",
)
@click.option(
    "--cache-size",
    default="64MB",
    show_default=True,
    envvar="EDGEKV_CACHE_SIZE",
    help="Memory for the edge's cache of values (e.g. 256MB, 1GB); 0 turns it off. It bounds "
    "the cache, not the process: a SQLite store adds its own page cache and mapped file "
    "(env EDGEKV_CACHE_SIZE).",
)
@click.option(
    "--serve-stale",
    default=0.0,
    show_default=True,
    type=float,
    envvar="EDGEKV_SERVE_STALE",
    help="Seconds past cache_ttl a cached value may still be served while the central store "
    "is down (env EDGEKV_SERVE_STALE).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    envvar="EDGEKV_WORKERS",
    help="Processes serving the port, each an edge over the store; read-your-writes holds "
    "across them. Default: one per core (one for memory:// and for a relay) "
    "(env EDGEKV_WORKERS).",
)
@click.option(
    "--relay-secret",
    metavar="SECRET",
    envvar="EDGEKV_RELAY_SECRET",
    help="Serve as a relay: edges started with --store relay://:SECRET@HOST:PORT take their "
    "data and change feed from this server (env EDGEKV_RELAY_SECRET).",
)
@click.option(
    "--no-dashboard",
    is_flag=True,
    envvar="EDGEKV_NO_DASHBOARD",
    help="Do not serve the web dashboard at /dashboard (env EDGEKV_NO_DASHBOARD).",
)
@click.option(
    "--no-usage",
    is_flag=True,
    envvar="EDGEKV_NO_USAGE",
    help="Do not count operations for usage analytics (docs/analytics.md) (env EDGEKV_NO_USAGE).",
)
@click.option(
    "--limits",
    type=click.Choice(sorted(PLANS)),
    envvar="EDGEKV_LIMITS",
    help="Refuse what Workers KV on that plan would, with Cloudflare's errors: 1 write per "
    "second per key; on the Free plan also the daily quotas and the 1 GB storage cap. Off by "
    "default; runs one worker (env EDGEKV_LIMITS).",
)
@click.option(
    "--propagation-delay",
    type=click.FloatRange(min=0),
    default=0.0,
    envvar="EDGEKV_PROPAGATION_DELAY",
    help="Seconds before this edge applies a write another edge made, as Workers KV's "
    "locations see writes up to 60 s late; the writing edge reads its own write at once. "
    "Off (0) by default (env EDGEKV_PROPAGATION_DELAY).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    envvar="EDGEKV_METRICS_PORT",
    help="Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (loopback only; with "
    "--workers N, worker i on PORT+i); 0 picks a free port (env EDGEKV_METRICS_PORT).",
)
@click.option(
    "--graceful-timeout",
    default=30.0,
    show_default=True,
    type=float,
    envvar="EDGEKV_GRACEFUL_TIMEOUT",
    help="Seconds to let requests in flight finish after SIGTERM.",
)
def serve_command(
    host: str,
    port: int,
    data_dir: Path | None,
    store: str | None,
    no_auth: bool,
    workerd_port: int | None,
    access_log: bool,
    cache_size: str,
    serve_stale: float,
    workers: int | None,
    relay_secret: str | None,
    no_dashboard: bool,
    no_usage: bool,
    limits: str | None,
    propagation_delay: float,
    metrics_port: int | None,
    graceful_timeout: float,
) -> None:
    """Serve the Cloudflare KV REST API (and workerd's KV protocol) over a store."""
    if no_auth and not is_loopback(host):
        raise click.UsageError(
            f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1), not {host}: "
            "anyone who can reach the server could read and write every namespace."
        )
    url = resolve_store_url(store, data_dir)
    if limits and workers is not None and workers > 1:
        raise click.UsageError("--workers must be 1 with --limits: it counts in one process.")
    if propagation_delay and parse_size(cache_size) == 0:
        raise click.UsageError(
            "--propagation-delay holds changes in the edge's memory: --cache-size must be above 0."
        )
    try:
        workers = 1 if limits else workers_for(workers, url, relay=bool(relay_secret))
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if metrics_port == 0 and workers > 1:
        raise click.UsageError(
            "--metrics-port 0 needs --workers 1: each worker serves its metrics on PORT+i."
        )
    if relay_secret and parse_size(cache_size) == 0:
        raise click.UsageError(
            "A relay answers edges from its memory: --cache-size must be above 0."
        )
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if not access_log:
        logging.getLogger("edgekv.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request to a relay
    make_app = functools.partial(
        create_app,
        url,
        auth=not no_auth,
        access_log=access_log,
        cache_size=parse_size(cache_size),
        serve_stale=serve_stale,
        relay_secret=relay_secret,
        dashboard=not no_dashboard,
        usage=not no_usage,
        limits=PLANS[limits] if limits else None,
        propagation_delay=propagation_delay,
    )
    if workers > 1:
        serve_node(
            make_app,
            host,
            port,
            workers,
            url,
            no_auth,
            workerd_port,
            graceful_timeout,
            dashboard=not no_dashboard,
            metrics_port=metrics_port,
        )
        return
    app = make_app(
        workerd_listen=None if workerd_port is None else (host, workerd_port),
        metrics_listen=None if metrics_port is None else (METRICS_HOST, metrics_port),
    )

    def on_listening(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        account = app.state.account_id
        lines = startup_lines(
            f"http://{shown}:{bound_port}",
            account,
            url,
            auth=not no_auth,
            workerd_port=getattr(app.state, "workerd_port", None),
            dashboard=not no_dashboard,
        )
        if limits:
            lines.append(f"  limits: {limits} (Workers KV's, per server: docs/emulation.md)")
        if propagation_delay:
            lines.append(f"  propagation delay: {propagation_delay:g} s for other edges' writes")
        scraped = getattr(app.state, "metrics_port", None)
        if scraped is not None:
            lines.append(f"  metrics: http://{METRICS_HOST}:{scraped}/metrics (Prometheus)")
        echo_lines(lines)

    serve(app, host, port, on_listening=on_listening, graceful_timeout=graceful_timeout)


serve_command.name = "serve"


def serve_node(
    make_app: functools.partial[EdgeKVApp],
    host: str,
    port: int,
    workers: int,
    url: str,
    no_auth: bool,
    workerd_port: int | None,
    graceful_timeout: float,
    *,
    dashboard: bool,
    metrics_port: int | None = None,
) -> None:
    """`--workers N` (N > 1): a supervisor and N workers on one port (server/workers.py)."""

    def on_listening(bound_host: str, bound_port: int, account: str, wport: int | None) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        lines = startup_lines(
            f"http://{shown}:{bound_port}", account, url, not no_auth, wport, dashboard
        )
        lines.append(f"  workers: {workers} (one node: read-your-writes across them)")
        if metrics_port is not None:
            last = metrics_port + workers - 1
            lines.append(
                f"  metrics: http://{METRICS_HOST}:{metrics_port}..{last}/metrics "
                "(Prometheus; one port per worker)"
            )
        echo_lines(lines)

    try:
        supervisor = Supervisor(
            make_app,
            host,
            port,
            workers,
            on_listening=on_listening,
            workerd_port=workerd_port,
            graceful_timeout=graceful_timeout,
            metrics_port=metrics_port,
        )
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e.strerror}") from None
    supervisor.run()
