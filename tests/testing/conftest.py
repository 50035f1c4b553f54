"""Fixtures for the simulator tests: an app and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bastion.testing import Simulator, SimulatorOptions, create_app


@pytest.fixture
def app() -> Simulator:
    return create_app(SimulatorOptions())


@pytest.fixture
async def client(app: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sim", headers={"authorization": "Bearer sk-test"}
    ) as http:
        yield http
