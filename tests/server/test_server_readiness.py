"""``/healthz`` and ``/readyz`` (CONTRACT.md §3): 503 only when the gateway would refuse
new calls; a degraded dependency keeps ``/readyz`` 200 and names what is degraded.

(Spool full: tests/e2e/test_e2e_drills_database.py; policy not loaded:
test_server_policy_store.py; Redis fail-closed and fail-open: test_server_limits_store.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tests.e2e.processes import free_port

from bastion.config import load_config
from bastion.errors import StorageError
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.identity.issuing import KeySpec, create_key
from bastion.server.proxy import ProxyApp
from bastion.server.runtime import Runtime
from bastion.storage.changes import ChangeFeed

CONFIG = """\
storage: {{url: "sqlite:///gateway.db", poll_interval_s: 0.1}}
providers:
  down:
    kind: openai
    base_url: "http://127.0.0.1:{port}/v1"
    api_key: sk-x
    retry: {{max_attempts: 1}}
    timeouts: {{connect_s: 1, first_byte_s: 1, total_s: 2}}
    breaker: {{failure_threshold: 1, reset_s: 600}}
models:
  gpt-4o-mini: {{targets: [{{provider: down, model: gpt-4o-mini}}]}}
"""


@asynccontextmanager
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    path = tmp_path / "bastion.yaml"
    path.write_text(CONFIG.format(port=free_port()), encoding="utf-8")
    runtime = Runtime(load_config(path), config_path=path)
    transport = httpx.ASGITransport(app=ProxyApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield runtime, client
    await runtime.close()


async def probe(client: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    reply = await client.get("/readyz")
    return reply.status_code, reply.json()


async def test_not_ready_until_started_while_healthz_answers(tmp_path: Path) -> None:
    async with gateway(tmp_path) as (runtime, client):
        assert (await client.get("/healthz")).status_code == 200
        assert await probe(client) == (503, {"status": "unavailable"})
        await runtime.start()
        assert await probe(client) == (200, {"status": "ready"})


async def test_open_breaker_and_unreachable_key_store_degrade_then_refuse(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path) as (runtime, client):
        await runtime.start()
        issued = await create_key(
            runtime.keys, KeySpec(name="probe"), actor=AdminIdentity("ops", AdminRole.ADMIN)
        )
        call = await client.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {issued.plaintext}"},
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert call.status_code >= 500  # the upstream is down: its breaker opens
        assert await probe(client) == (
            200,
            {"status": "degraded", "degraded": ["down/gpt-4o-mini"]},
        )

        # key store unreachable, but a key verified moments ago still authenticates
        runtime.verifier.store_reachable = False
        assert runtime.verifier.cached_keys > 0
        status, body = await probe(client)
        assert status == 200 and body["degraded"] == ["down/gpt-4o-mini", "key_store"]

        # ...and with nothing cached, no call could authenticate: not ready
        runtime.verifier.invalidate(None)
        assert await probe(client) == (503, {"status": "unavailable"})


async def test_readyz_follows_the_key_store_without_calls_coming_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a key lookup used to tell readiness about the store: with the database down
    /readyz said ready while every new key got 503, and once the database was back it
    said unavailable until a call came in, which a load balancer never sends."""
    async with gateway(tmp_path) as (runtime, client):
        await runtime.start()
        assert await probe(client) == (200, {"status": "ready"})

        async def store_down(self: ChangeFeed, seq: int, *, limit: int = 1000) -> None:
            raise StorageError("change feed read failed (OperationalError)")

        with monkeypatch.context() as patch:
            patch.setattr(ChangeFeed, "since", store_down)
            await asyncio.sleep(0.5)  # a few polls (storage.poll_interval_s: 0.1)
            assert await probe(client) == (503, {"status": "unavailable"})
            runtime.verifier.store_reachable = False  # as a key lookup meanwhile found
        await asyncio.sleep(0.5)
        assert await probe(client) == (200, {"status": "ready"})
