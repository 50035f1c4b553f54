"""App factory: one runtime, the proxy app and the admin app built from a config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.config.schema import BastionConfig
from bastion.server.admin import AdminApp
from bastion.server.asgi import ASGIApp
from bastion.server.cors import CorsMiddleware
from bastion.server.proxy import ProxyApp
from bastion.server.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Apps:
    """The two ASGI apps of a gateway process, sharing one runtime."""

    runtime: Runtime
    proxy: ASGIApp
    admin: AdminApp


def create_apps(
    config: BastionConfig,
    *,
    config_path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    watch: bool = False,
) -> Apps:
    """Build everything for one process; nothing is opened until the proxy's lifespan."""
    runtime = Runtime(config, config_path=config_path, overrides=overrides, watch=watch)
    proxy: ASGIApp = ProxyApp(runtime)
    if config.server.cors.enabled:
        proxy = CorsMiddleware(proxy, config.server.cors.allow_origins)
    return Apps(runtime, proxy, AdminApp(runtime))
