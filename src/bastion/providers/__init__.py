"""Upstream providers: adapters, transport, routing with retries, fallbacks and breakers.

The gateway calls `Router.send(public_model, endpoint, body, stream=...)` and gets an
`UpstreamResponse` (complete answer) or an `UpstreamStream` (live body bytes), or an
`ApiError` it can answer as is.
"""

from bastion.providers.adapters import ENDPOINT_PATHS, PreparedTarget, ProviderAdapter
from bastion.providers.breaker import BreakerState, CircuitBreaker
from bastion.providers.responses import UpstreamResponse, UpstreamStream
from bastion.providers.router import Router

__all__ = [
    "ENDPOINT_PATHS",
    "BreakerState",
    "CircuitBreaker",
    "PreparedTarget",
    "ProviderAdapter",
    "Router",
    "UpstreamResponse",
    "UpstreamStream",
]
