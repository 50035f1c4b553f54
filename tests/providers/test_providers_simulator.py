"""Router against the project's OpenAI-wire simulator (served by uvicorn) on happy paths."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import orjson
import pytest
import uvicorn
from providers_fakes import PROVIDER_KEY, bastion_config, provider

from bastion.model import Endpoint
from bastion.providers import UpstreamResponse, UpstreamStream

simulator = pytest.importorskip("bastion.testing.simulator")

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]}


@pytest.fixture
async def simulator_port() -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    app = simulator.create_app(simulator.SimulatorOptions(api_key=PROVIDER_KEY))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):  # up to 5 s for uvicorn to bind
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    yield port
    server.should_exit = True
    await task
    sock.close()


async def test_chat_through_simulator(simulator_port: int, make_router):
    base_url = f"http://127.0.0.1:{simulator_port}/v1"
    router = await make_router(bastion_config({"sim": provider(base_url)}, [("sim", "gpt-4o")]))
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert isinstance(result, UpstreamResponse)
    answer = orjson.loads(result.body)
    assert answer["choices"][0]["message"]["content"]


async def test_stream_through_simulator(simulator_port: int, make_router):
    base_url = f"http://127.0.0.1:{simulator_port}/v1"
    router = await make_router(bastion_config({"sim": provider(base_url)}, [("sim", "gpt-4o")]))
    stream = await router.send("gpt-4o-mini", Endpoint.CHAT, {**BODY, "stream": True}, stream=True)
    assert isinstance(stream, UpstreamStream)
    async with stream:
        body = b"".join([chunk async for chunk in stream.chunks()])
    assert body.rstrip().endswith(b"data: [DONE]")


async def test_azure_chat_through_simulator(simulator_port: int, make_router):
    config = provider(f"http://127.0.0.1:{simulator_port}", kind="azure", api_version="2024-10-21")
    router = await make_router(bastion_config({"az": config}, [("az", "gpt-4o")]))
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert orjson.loads(result.body)["choices"]
