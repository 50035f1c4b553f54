"""``bastion simulate``: serve the OpenAI-wire upstream simulator over HTTP."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator

import click
import uvicorn

from bastion.testing.simulator import SimulatorOptions, create_app

# the ``disconnect`` fault ends responses early on purpose; uvicorn reports each one
_INTENDED_DISCONNECT = "ASGI callable returned without completing response."


class _DropIntendedDisconnects(logging.Filter):
    """Hide uvicorn's error line for responses the simulator cut off deliberately."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _INTENDED_DISCONNECT


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints one line on stdout once it is listening."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            url = f"http://{self.config.host}:{self.config.port}/v1"
            sys.stdout.write(f"bastion simulate listening on {url}\n")
            sys.stdout.flush()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Stop on SIGINT/SIGTERM and exit 0 (uvicorn would re-raise the signal)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stop_signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stop_signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=9000, show_default=True, type=int, help="TCP port to bind.")
@click.option("--api-key", default=None, help="Require this key (Bearer or Azure api-key).")
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Delay before the first byte of every answer.",
)
def simulate(host: str, port: int, api_key: str | None, latency_ms: float) -> None:
    """Run the OpenAI-wire upstream simulator (echo answers, scripted replies, faults).

    Stops cleanly on SIGTERM or SIGINT. The control API and fault directives are
    described in the ``bastion.testing`` module documentation.
    """
    app = create_app(SimulatorOptions(api_key=api_key, latency_ms=latency_ms))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    logging.getLogger("uvicorn.error").addFilter(_DropIntendedDisconnects())
    _AnnouncingServer(config).run()
