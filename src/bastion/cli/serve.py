"""``bastion serve``: run the gateway."""

from __future__ import annotations

from typing import Any

import click

from bastion.config import config_path_from, load_config
from bastion.errors import ConfigError


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $BASTION_CONFIG, else built-in defaults).",
)
@click.option("--host", default=None, help="Proxy bind address (server.host).")
@click.option("--port", type=int, default=None, help="Proxy port (server.port).")
@click.option("--admin-port", type=int, default=None, help="Admin port (server.admin.port).")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (server.workers)."
)
@click.option(
    "--watch", is_flag=True, help="Reload the config file when it changes (SIGHUP always does)."
)
def serve(
    config_file: str | None,
    host: str | None,
    port: int | None,
    admin_port: int | None,
    workers: int | None,
    watch: bool,
) -> None:
    """Run the gateway: the OpenAI-compatible proxy and the admin port."""
    from bastion.server.run import ServeOptions, configure_logging, run

    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "server.host": host,
            "server.port": port,
            "server.admin.port": admin_port,
            "server.workers": workers,
        }.items()
        if value is not None
    }
    path = config_path_from(config_file)
    try:
        config = load_config(path, overrides=overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(config.server.log_format)
    run(config, ServeOptions(path, overrides, watch))
