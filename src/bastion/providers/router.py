"""Routing a public model to its upstream targets: retries, fallbacks, breakers, deadlines.

`Router.send` walks the model's targets in configured order. A target whose circuit
breaker is open is skipped. Each target gets up to ``retry.max_attempts`` attempts for
retryable failures (see `retry`), then the next target is tried; a failure that is
the request's own fault (400, 404, 422, ...) ends the call at once. A target's
``timeouts.total_s`` is measured from the start of `send` and spans retries,
fallbacks and the whole stream, so no call outlives the largest ``total_s`` of its
targets. Once a stream has been handed to the caller nothing is retried.

Timing fields (`upstream_ms`, `first_byte_ms`) are measured from the start of `send`,
retries included: they are the upstream latency the caller experienced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.config.schema import BastionConfig, ProviderConfig
from bastion.errors import ApiError, NotFound
from bastion.model import Endpoint
from bastion.providers.adapters import PreparedTarget, prepare_target
from bastion.providers.attempt import AttemptContext, AttemptFailure, run_attempt
from bastion.providers.breaker import CircuitBreaker
from bastion.providers.responses import UpstreamResponse, UpstreamStream
from bastion.providers.retry import next_delay
from bastion.providers.transport import ProviderTransport
from bastion.providers.upstream_errors import deadline_exceeded, no_healthy_target

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _RoutedTarget:
    """A prepared target with its provider's settings, connection pool and breaker."""

    prepared: PreparedTarget
    config: ProviderConfig
    transport: ProviderTransport
    breaker: CircuitBreaker


class Router:
    """Sends calls for public models to their upstream targets.

    Build it from the config, `await start()` inside the serving event loop, and
    `await close()` at shutdown. `send` raises only `ApiError` subclasses:
    `NotFound` (unknown model), `InvalidRequest` (the upstream refused the request
    itself) or `UpstreamFailed` (502/504).
    """

    def __init__(
        self, config: BastionConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._transports = {
            name: ProviderTransport(provider) for name, provider in config.providers.items()
        }
        breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._models: dict[str, tuple[_RoutedTarget, ...]] = {}
        for public_model, model in config.models.items():
            routed: list[_RoutedTarget] = []
            for target in model.targets:
                provider = config.providers[target.provider]
                key = (target.provider, target.model)
                if key not in breakers:
                    breakers[key] = CircuitBreaker(provider.breaker, clock=clock)
                routed.append(
                    _RoutedTarget(
                        prepared=prepare_target(target.provider, provider, target.model),
                        config=provider,
                        transport=self._transports[target.provider],
                        breaker=breakers[key],
                    )
                )
            self._models[public_model] = tuple(routed)
        self._breakers = {f"{provider}/{model}": b for (provider, model), b in breakers.items()}

    async def start(self) -> None:
        """Open one connection pool per provider."""
        for transport in self._transports.values():
            await transport.start()

    async def close(self) -> None:
        """Close every connection pool."""
        for transport in self._transports.values():
            await transport.close()

    def health(self) -> dict[str, str]:
        """Breaker state per target, `{"provider/model": "closed"|"open"|"half_open"}`."""
        return {key: breaker.state.value for key, breaker in self._breakers.items()}

    async def send(
        self, public_model: str, endpoint: Endpoint, body: dict[str, Any], *, stream: bool
    ) -> UpstreamResponse | UpstreamStream:
        """Forward `body` for `public_model` to the first target that answers well."""
        targets = self._models.get(public_model)
        if targets is None:
            raise NotFound(f"The model {public_model!r} does not exist.", code="model_not_found")
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempts = 0
        last_error: ApiError | None = None
        for target in targets:
            if not target.breaker.try_acquire():
                continue
            if loop.time() >= started + target.config.timeouts.total_s:
                target.breaker.release_trial()
                last_error = deadline_exceeded()
                last_error.provider = target.prepared.provider
                continue
            context = AttemptContext(
                public_model=public_model,
                started=started,
                on_stream_failure=target.breaker.record_failure,
            )
            result, attempts = await self._send_to_target(
                target, endpoint, body, stream=stream, context=context, attempts=attempts
            )
            if not isinstance(result, AttemptFailure):
                return result
            last_error = result.error
            last_error.provider = target.prepared.provider
            if not result.fallback:
                break
        if last_error is None:
            raise no_healthy_target(public_model)
        raise last_error

    async def _send_to_target(
        self,
        target: _RoutedTarget,
        endpoint: Endpoint,
        body: dict[str, Any],
        *,
        stream: bool,
        context: AttemptContext,
        attempts: int,
    ) -> tuple[UpstreamResponse | UpstreamStream | AttemptFailure, int]:
        """Attempts on one target (its breaker slot already taken) until done or out."""
        prepared, breaker = target.prepared, target.breaker
        loop = asyncio.get_running_loop()
        url = prepared.url(endpoint)
        payload = orjson.dumps({**body, "model": prepared.upstream_model})
        total_deadline = context.started + target.config.timeouts.total_s
        attempt_on_target = 0
        while True:
            attempt_on_target += 1
            attempts += 1
            try:
                result = await run_attempt(
                    target.transport,
                    prepared,
                    url,
                    payload,
                    stream=stream,
                    timeouts=target.config.timeouts,
                    max_response_bytes=target.config.max_response_bytes,
                    context=context,
                    attempts=attempts,
                    total_deadline=total_deadline,
                    now=loop.time(),
                )
            except BaseException:
                breaker.release_trial()  # cancelled (client gone): no verdict on the target
                raise
            if not isinstance(result, AttemptFailure):
                breaker.record_success()
                return result, attempts
            if result.unhealthy:
                breaker.record_failure()
            else:
                breaker.record_success()
            logger.log(
                logging.WARNING if result.unhealthy else logging.INFO,
                "upstream attempt failed: target=%s attempt=%d status=%s code=%s",
                prepared.key,
                attempt_on_target,
                result.status,
                result.error.code,
            )
            if not result.retryable:
                return result, attempts
            delay = next_delay(target.config.retry, attempt_on_target, result.retry_after_s)
            if delay.seconds is None or loop.time() + delay.seconds >= total_deadline:
                return result, attempts
            if not breaker.try_acquire():
                return result, attempts
            try:
                await asyncio.sleep(delay.seconds)
            except BaseException:
                breaker.release_trial()
                raise
