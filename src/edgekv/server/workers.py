"""`edgekv serve --workers N`: N processes on one port, each an edge over the same store.

The supervisor (this process) binds the port once and forks the workers, which accept on that
one socket. Chosen over SO_REUSEPORT, where each worker binds a socket of its own: with one
socket `--port 0` works (the port is known before any worker starts), no other process of the
same user can join the port and take a share of its connections, and a worker that dies loses
only the connections it had accepted: the ones still queued wait for its siblings, where with
SO_REUSEPORT the kernel would have reset those queued on the dead worker's socket. The kernel
hands each connection to whichever worker accepts first, so a busy worker takes fewer.

Workers are forked, not spawned: the supervisor has imported edgekv already and opened nothing
(no store, no event loop, no thread), so a worker starts in milliseconds and shares the
supervisor's pages. Worker 0 is the leader: the one that reads the central store's change
feed; the others learn of its changes, and of each other's writes, through the node's change
log (server/node_log.py, server/siblings.py), before they answer any request.

The supervisor prints the startup lines once every worker listens; it replaces a worker that
died (after a pause that grows while replacements keep dying young) or stopped beating (its
event loop stuck for HUNG seconds); on SIGTERM or SIGINT it sends SIGTERM to every worker,
each of which drains as a single server does (requests in flight finish, writes acknowledged
only once committed), waits for them, and ends by the same signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from edgekv.edge._async.edge_store import AsyncEdgeStore
from edgekv.server.app import EdgeKVApp
from edgekv.server.node_log import NodeLog
from edgekv.server.run import ListeningServer, uvicorn_config
from edgekv.server.siblings import Siblings

log = logging.getLogger("edgekv.node")

HUNG = 60.0  # seconds without a heartbeat after which a worker is killed and replaced
_POLL = 0.1
_YOUNG = 5.0  # a worker that dies sooner than this after its start makes the next wait longer
_MAX_PAUSE = 5.0

# make_app(follow_feed=, workerd_listen=, around=, metrics_listen=) -> the app a worker serves
AppFactory = Callable[..., EdgeKVApp]
# on_listening(host, port, account_id, workerd_port)
Listening = Callable[[str, int, str, int | None], None]


def default_workers() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, as uvicorn binds one (address reuse, backlog 2048)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class _Worker:
    index: int
    pid: int = 0
    started: float = 0.0
    ready: bool = False
    restart_at: float = 0.0  # monotonic; 0: running or not due
    pause: float = 0.1


class Supervisor:
    """Runs a node until SIGTERM or SIGINT: `Supervisor(...).run()`."""

    def __init__(
        self,
        make_app: AppFactory,
        host: str,
        port: int,
        workers: int,
        *,
        on_listening: Listening,
        workerd_port: int | None = None,
        graceful_timeout: float = 30.0,
        log_level: str = "warning",
        metrics_port: int | None = None,
    ) -> None:
        """`metrics_port`: worker i serves its /metrics on 127.0.0.1, port metrics_port + i
        (each worker counts its own requests: a scrape of one port sees one worker)."""
        self.make_app = make_app
        self.metrics_port = metrics_port
        self.host = host
        self.workers = [_Worker(i) for i in range(workers)]
        self.on_listening = on_listening
        self.graceful_timeout = graceful_timeout
        self.log_level = log_level
        self.sock = bind(host, port)
        self.workerd_sock = None if workerd_port is None else bind(host, workerd_port)
        self.node = NodeLog.create(workers)
        self._ready_in, self._ready_out = os.pipe()
        self._signal: int | None = None
        self._announced = False
        self._account = ""
        self._buffer = b""

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def run(self) -> None:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        status = 0
        try:
            for worker in self.workers:
                self._start(worker)
            status = self._watch()
        finally:
            self._stop_all()
            self.sock.close()
            if self.workerd_sock is not None:
                self.workerd_sock.close()
            self.node.close()
            os.close(self._ready_in)
            os.close(self._ready_out)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._signal is not None:
            signal.raise_signal(self._signal)  # exit as a single server does: 143 on SIGTERM
        if status:
            sys.exit(status)

    def _on_signal(self, sig: int, frame: object) -> None:
        self._signal = sig

    # the watch loop

    def _watch(self) -> int:
        """Until a signal: reads readiness, reaps and replaces workers. Returns an exit
        status when the node cannot start (a worker failed before any listened)."""
        while self._signal is None:
            with contextlib.suppress(InterruptedError):
                ready, _, _ = select.select([self._ready_in], [], [], _POLL)
                if ready:
                    self._read_ready()
            failed = self._reap()
            if failed is not None:
                return failed
            now = time.monotonic()
            for worker in self.workers:
                if worker.pid == 0 and worker.restart_at and now >= worker.restart_at:
                    self._start(worker)
            self._kill_hung()
        return 0

    def _read_ready(self) -> None:
        self._buffer += os.read(self._ready_in, 4096)
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            index, pid, account, workerd = line.decode().split(" ")
            worker = self.workers[int(index)]
            if worker.pid != int(pid):
                continue  # a worker that died since
            worker.ready = True
            self._account = account
            if not self._announced and all(w.ready for w in self.workers):
                self._announced = True
                port = None if workerd == "-" else int(workerd)
                self.on_listening(self.host, self.port, account, port)

    def _reap(self) -> int | None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
            worker = next((w for w in self.workers if w.pid == pid), None)
            if worker is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            lived = time.monotonic() - worker.started
            worker.pid = 0
            self.node.forget_health(worker.index)
            if self._signal is not None:
                continue
            if not self._announced and not worker.ready:
                log.error("worker %d could not start (exit status %s)", worker.index, code)
                return code if code > 0 else 1
            worker.pause = min(worker.pause * 2, _MAX_PAUSE) if lived < _YOUNG else 0.1
            worker.restart_at = time.monotonic() + worker.pause
            log.warning(
                "worker %d (pid %d) ended (status %s) after %.1f s; replacing it in %.1f s",
                worker.index,
                pid,
                code,
                lived,
                worker.pause,
            )

    def _kill_hung(self) -> None:
        now = time.time()
        for health in self.node.health():
            if health is None:
                continue
            worker = self.workers[int(health["worker"])]
            if worker.pid == int(health["pid"]) and now - float(health["beat"]) > HUNG:
                log.error(
                    "worker %d (pid %d) stopped beating: killing it", worker.index, worker.pid
                )
                self.node.forget_health(worker.index)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)

    # workers

    def _start(self, worker: _Worker) -> None:
        worker.ready = False
        worker.restart_at = 0.0
        worker.started = time.monotonic()
        pid = os.fork()
        if pid:
            worker.pid = pid
            return
        code = 1
        try:  # the child: never returns into the supervisor's code
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            os.close(self._ready_in)
            code = self._serve(worker.index)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", worker.index)
        finally:
            logging.shutdown()
            os._exit(code)

    def _serve(self, index: int) -> int:
        siblings = Siblings(self.node, index, leader=index == 0, parent=os.getppid())
        metrics = None if self.metrics_port is None else ("127.0.0.1", self.metrics_port + index)
        app = self.make_app(
            follow_feed=index == 0,
            workerd_listen=self.workerd_sock,
            around=siblings.wrap,
            metrics_listen=metrics,
        )
        store = app.state.store
        siblings.attach(store if isinstance(store, AsyncEdgeStore) else None)
        siblings.store = store
        out = self._ready_out

        def listening(host: str, port: int) -> None:
            workerd = getattr(app.state, "workerd_port", None)
            line = f"{index} {os.getpid()} {app.state.account_id} {workerd or '-'}\n"
            os.write(out, line.encode())

        config = uvicorn_config(app, self.graceful_timeout, self.log_level)
        ListeningServer(config, listening).run(sockets=[self.sock])
        return 0

    def _stop_all(self) -> None:
        running = [w for w in self.workers if w.pid]
        for worker in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_timeout + 5
        for worker in running:
            while True:
                try:
                    pid, _ = os.waitpid(worker.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid:
                    break
                if time.monotonic() > deadline:
                    log.error("worker %d did not stop in time: killing it", worker.index)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.pid, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(worker.pid, 0)
                    break
                time.sleep(0.02)
            worker.pid = 0


def workers_for(requested: int | None, store_url: str, *, relay: bool) -> int:
    """How many workers a node runs: as asked, else one per core; one for a `memory://`
    store (it lives in one process) and for a relay (its change log is its process's).
    ValueError says why a request cannot be met."""
    single = (
        "memory:// lives in one process"
        if store_url.split(":", 1)[0].lower() == "memory"
        else "a relay's change log lives in one process (run more relays instead)"
        if relay
        else None
    )
    if single is None:
        return requested or default_workers()
    if requested is not None and requested > 1:
        raise ValueError(f"--workers must be 1 here: {single}.")
    return 1
