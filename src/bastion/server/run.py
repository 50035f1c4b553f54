"""Serving the proxy and admin apps with uvicorn: one process, or N workers sharing sockets."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn

from bastion.config import reload_config
from bastion.config.schema import BastionConfig
from bastion.errors import BastionError
from bastion.server import logs
from bastion.server.app import create_apps
from bastion.server.http_protocol import bounded_http_protocol, head_limit

log = logging.getLogger("bastion.server")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How the process was asked to run (needed again by workers and reloads)."""

    config_path: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    watch: bool = False


class _Server(uvicorn.Server):
    """A uvicorn server whose signals are handled by ``serve_process`` for both ports."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that worker processes can share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(
    app: Any, config: BastionConfig, *, lifespan: Literal["on", "off"]
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop="none",
        http=bounded_http_protocol(
            head_limit(config.server.max_header_bytes, config.server.max_headers),
            config.server.body_timeout_s,
        ),
        lifespan=lifespan,
        access_log=False,
        log_level="warning",
        # JSON logs: uvicorn's loggers go through the root handler, not their own
        log_config=None if config.server.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        server_header=False,
        date_header=False,
        # whole seconds (uvicorn's type); 0 means no drain, never "wait for ever"
        timeout_graceful_shutdown=math.ceil(config.server.drain_timeout_s),
        timeout_keep_alive=30,
        limit_concurrency=None,
        backlog=2048,
        proxy_headers=True,
        forwarded_allow_ips=config.server.trusted_proxies,
    )


async def serve_process(
    config: BastionConfig,
    sockets: tuple[socket.socket, socket.socket],
    options: ServeOptions,
    *,
    worker: bool = False,
) -> None:
    """Serve both ports in this process until SIGTERM/SIGINT, then drain; SIGHUP reloads.

    A ``worker`` of several drains on SIGTERM only: its parent forwards SIGINT as
    SIGTERM, and Ctrl-C in a terminal reaches the whole process group, so a worker that
    also took SIGINT would count two signals and stop without draining."""
    try:
        apps = create_apps(
            config,
            config_path=options.config_path,
            overrides=options.overrides,
            watch=options.watch,
        )
    except BastionError as exc:  # a keyring or detector problem: say what, no traceback
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from None
    proxy = _Server(_uvicorn_config(apps.proxy, config, lifespan="on"))
    admin = _Server(_uvicorn_config(apps.admin, config, lifespan="off"))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        """First signal: drain; a second one: stop now."""
        if proxy.should_exit:
            proxy.force_exit = admin.force_exit = True
        proxy.should_exit = admin.should_exit = True

    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        task = asyncio.create_task(apps.runtime.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for sig in (signal.SIGTERM,) if worker else (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    loop.add_signal_handler(signal.SIGHUP, reload)
    proxy_task = asyncio.create_task(_serving(proxy, sockets[0]))
    while not proxy.started and not proxy_task.done():  # noqa: ASYNC110 (no start event)
        await asyncio.sleep(0.01)
    if proxy_task.done() and not proxy.started:  # start-up failed: the lifespan said why
        raise SystemExit(1)
    admin_task = asyncio.create_task(_serving(admin, sockets[1]))
    done, _ = await asyncio.wait({proxy_task, admin_task}, return_when=asyncio.FIRST_COMPLETED)
    proxy.should_exit = admin.should_exit = True  # one port ended: drain the other
    await asyncio.gather(proxy_task, admin_task, return_exceptions=True)
    if proxy_task in done and not proxy.started:
        raise SystemExit(1)


async def _serving(server: uvicorn.Server, sock: socket.socket) -> None:
    """``server.serve``, minus uvicorn's ``SystemExit`` on a failed start-up: inside a
    task it would escape the event loop with a traceback; the lifespan logged why."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit:
        log.debug("%s did not start", type(server).__name__)


def _run_loop(
    config: BastionConfig,
    sockets: tuple[socket.socket, socket.socket],
    options: ServeOptions,
    *,
    worker: bool = False,
) -> None:
    try:
        import uvloop

        uvloop.run(serve_process(config, sockets, options, worker=worker))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(serve_process(config, sockets, options, worker=worker))


def _worker(
    options: ServeOptions, sockets: tuple[socket.socket, ...], started_with: BastionConfig
) -> None:
    """One worker: the config file as it is now (a reload the others applied), or, when
    it no longer loads, the config the gateway started with. A worker replaced after a
    crash must not stop the gateway over an edit the running workers rejected."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent forwards it (serve_process)
    config, error = reload_config(started_with, options.config_path, overrides=options.overrides)
    configure_logging(config.server.log_format)
    if error is not None:
        log.error("config file does not load; this worker runs the start-up config:\n%s", error)
    _run_loop(config, (sockets[0], sockets[1]), options, worker=True)


def configure_logging(log_format: Literal["text", "json"] = "text") -> None:
    """Log lines on stderr as ``server.log_format`` says (``server.logs``)."""
    logs.configure_logging(log_format)


def run(config: BastionConfig, options: ServeOptions) -> None:
    """Bind the ports, then serve in this process or in ``server.workers`` processes."""
    server = config.server
    admin_host = server.admin.host or server.host
    sockets = (
        _listen(server.host, server.port, "server.port"),
        _listen(admin_host, server.admin.port, "server.admin.port"),
    )
    print(
        f"bastion serving on http://{server.host}:{sockets[0].getsockname()[1]}/v1 "
        f"(admin http://{admin_host}:{sockets[1].getsockname()[1]}, "
        f"{server.workers} worker{'s' if server.workers > 1 else ''})",
        flush=True,
    )
    if server.workers == 1:
        _run_loop(config, sockets, options)
        return
    _migrate_once(config)
    # Workers write metrics to files here; a scrape on any worker adds them all up.
    metrics_dir = tempfile.mkdtemp(prefix="bastion-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        code = _supervise(server.workers, options, sockets, config)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if code:
        raise SystemExit(code)


def _listen(host: str, port: int, setting: str) -> socket.socket:
    """``bind_socket``, or exit 1 with one line saying which address is the problem
    (a port in use, an unknown host) instead of a traceback."""
    try:
        return bind_socket(host, port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.error("cannot start: cannot listen on %s:%d (%s): %s", host, port, setting, reason)
        raise SystemExit(1) from None


_RESTARTS_PER_MINUTE = 5
"""A worker that dies more often than this is not coming back: stop the gateway."""


def _supervise(
    count: int,
    options: ServeOptions,
    sockets: tuple[socket.socket, ...],
    config: BastionConfig,
) -> int:
    """Run ``count`` workers until a signal stops them; the exit code of the gateway.

    A worker that fails its start-up (exit 1: the lifespan said why, e.g. a missing
    keyring) stops the gateway with exit 1, since the others would fail alike. A worker
    that dies while serving (``kill -9``, out of memory) is replaced, at most
    ``_RESTARTS_PER_MINUTE`` times a minute."""
    ctx = multiprocessing.get_context("spawn")
    serial = itertools.count()

    def spawn() -> multiprocessing.process.BaseProcess:
        proc = ctx.Process(
            target=_worker, args=(options, sockets, config), name=f"bastion-{next(serial)}"
        )
        proc.start()
        return proc

    workers = [spawn() for _ in range(count)]
    stopping = False
    restarts: collections.deque[float] = collections.deque()

    def forward(sig: int, _frame: object) -> None:
        """Pass SIGTERM/SIGINT (drain) and SIGHUP (reload) on to every worker."""
        nonlocal stopping
        stopping = stopping or sig != signal.SIGHUP
        for proc in workers:
            if proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM if sig == signal.SIGINT else sig)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    code = 0
    while workers:
        multiprocessing.connection.wait([proc.sentinel for proc in workers], timeout=1.0)
        for proc in [proc for proc in workers if not proc.is_alive()]:
            workers.remove(proc)
            proc.join()
            if stopping or proc.exitcode == 0:
                continue
            now = time.monotonic()
            while restarts and now - restarts[0] > 60:
                restarts.popleft()
            if proc.exitcode == 1 or len(restarts) >= _RESTARTS_PER_MINUTE:
                reason = "failed to start" if proc.exitcode == 1 else "keeps dying"
                log.error("worker %s %s; stopping the gateway", proc.name, reason)
                code = 1
                forward(signal.SIGTERM, None)
                continue
            restarts.append(now)
            log.warning("worker %s died (exit %s); starting another", proc.name, proc.exitcode)
            workers.append(spawn())
    return code


def _migrate_once(config: BastionConfig) -> None:
    """Migrate before workers start, so they never race on the schema; a store that
    cannot be opened stops the gateway with one line, as a single process does."""
    from bastion.storage.database import Database

    async def migrate() -> None:
        database = Database.from_url(config.storage.url)
        try:
            await database.migrate()
        finally:
            await database.close()

    try:
        asyncio.run(migrate())
    except BastionError as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(1) from None
