"""Fixtures for the providers tests: fake upstreams and started Routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from providers_fakes import FakeUpstream, serve_fake

from bastion.config.schema import BastionConfig
from bastion.providers import Router


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    """The primary fake upstream."""
    async with serve_fake() as fake:
        yield fake


@pytest.fixture
async def backup() -> AsyncIterator[FakeUpstream]:
    """A second fake upstream, for fallback tests."""
    async with serve_fake() as fake:
        yield fake


@pytest.fixture
async def make_router() -> AsyncIterator[Callable[..., Awaitable[Router]]]:
    """Build and start Routers; all are closed after the test."""
    routers: list[Router] = []

    async def build(config: BastionConfig, **kwargs: Any) -> Router:
        router = Router(config, **kwargs)
        await router.start()
        routers.append(router)
        return router

    yield build
    for router in routers:
        await router.close()
