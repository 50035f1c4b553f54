"""App factory: one runtime, the proxy app and the admin app built from a config."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config.schema import BastionConfig
from bastion.server.admin import AdminApp
from bastion.server.proxy import ProxyApp
from bastion.server.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Apps:
    """The two ASGI apps of a gateway process, sharing one runtime."""

    runtime: Runtime
    proxy: ProxyApp
    admin: AdminApp


def create_apps(config: BastionConfig) -> Apps:
    """Build everything for one process; nothing is opened until the proxy's lifespan."""
    runtime = Runtime(config)
    return Apps(runtime, ProxyApp(runtime), AdminApp(runtime))
