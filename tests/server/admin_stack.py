"""A started gateway for the admin API tests: the in-process admin and proxy apps over a
SQLite store, the project's simulator as the upstream, admin tokens for every role and
two app owners, and keys owned by each."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bastion.config.schema import BastionConfig
from bastion.identity.admin import AdminIdentity, AdminRole, new_admin_token
from bastion.identity.issuing import KeySpec
from bastion.pipeline.governance import Governance
from bastion.server.admin_api.context import AdminContext
from bastion.server.app import Apps, create_apps
from bastion.storage.admin_tokens import AdminTokenRepository
from bastion.testing import SimulatorOptions, create_app

SIM_KEY = "sk-sim-admin"
MODEL = "gpt-4o-mini"
POLICY_V1 = """\
name: team
version: v1
rules:
  - id: secrets.block
    match: {classes: ["secret.*"]}
    action: block
  - id: pii.redact
    match: {classes: ["pii.email"]}
    action: redact
tests:
  - name: mail is redacted
    findings: [{class: pii.email, where: user}]
    model: gpt-4o-mini
    expect: {decision: redact, rules: [pii.redact]}
"""
POLICY_V2 = POLICY_V1.replace("version: v1", "version: v2").replace(
    "    action: redact\n", "    action: block\n"
)
SUBJECTS = {
    "admin": ("root", AdminRole.ADMIN),
    "security": ("sec", AdminRole.SECURITY),
    "security2": ("sec2", AdminRole.SECURITY),
    "auditor": ("aud", AdminRole.AUDITOR),
    "owner": ("alice", AdminRole.APP_OWNER),
    "other_owner": ("bob", AdminRole.APP_OWNER),
}


def identity(who: str) -> AdminIdentity:
    """The admin identity a test token stands for."""
    subject, role = SUBJECTS[who]
    return AdminIdentity(subject, role)


@dataclass
class AdminStack:
    """The running gateway, its clients, tokens by who, and gateway keys by name."""

    apps: Apps
    admin: httpx.AsyncClient
    proxy: httpx.AsyncClient
    tokens: dict[str, str]
    keys: dict[str, tuple[str, str]]  # name -> (key id, plaintext)

    @property
    def context(self) -> AdminContext:
        """The admin API's context (its governance service, stores)."""
        context: AdminContext = self.apps.admin.api.state.admin_context
        return context

    @property
    def governance(self) -> Governance:
        return self.context.governance

    def auth(self, who: str | None) -> dict[str, str]:
        """Headers authenticating as ``who`` (None: no token)."""
        return {} if who is None else {"authorization": f"Bearer {self.tokens[who]}"}

    async def api(
        self, who: str | None, method: str, path: str, body: Any = None, **params: Any
    ) -> httpx.Response:
        """Call ``/admin/api{path}`` as ``who``."""
        return await self.admin.request(
            method, f"/admin/api{path}", headers=self.auth(who), json=body, params=params or None
        )

    async def chat(self, key: str, text: str) -> httpx.Response:
        """One chat call through the proxy with gateway key ``key``."""
        return await self.proxy.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {self.keys[key][1]}"},
            json={"model": MODEL, "messages": [{"role": "user", "content": text}]},
        )

    async def settle(self) -> None:
        """Wait until recorded calls and settled spend reached the store."""
        runtime = self.apps.runtime
        for _ in range(200):
            ledger = runtime.ledger.pending if runtime.ledger is not None else 0
            if runtime.audit.pending == 0 and ledger == 0:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("calls were not recorded in time")


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@asynccontextmanager
async def simulator() -> AsyncIterator[str]:
    """The OpenAI-wire simulator on a real local port; its base URL."""
    sock = _listening_socket()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(SimulatorOptions(api_key=SIM_KEY)),
            lifespan="on",
            log_level="warning",
            ws="none",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no start event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        await task
        sock.close()


def stack_config(work: Path, upstream: str, **extra: Any) -> BastionConfig:
    """The gateway's config: one chat model on the simulator, the v1 policy, budgets."""
    (work / "policy.yaml").write_text(POLICY_V1, encoding="utf-8")
    return BastionConfig.model_validate(
        {
            "server": {"max_body_bytes": 65536},
            "storage": {"url": f"sqlite:///{work / 'gateway.db'}", "poll_interval_s": 0.05},
            "providers": {
                "sim": {
                    "kind": "openai",
                    "base_url": upstream,
                    "api_key": SIM_KEY,
                    "retry": {"max_attempts": 1},
                }
            },
            "models": {MODEL: {"targets": [{"provider": "sim", "model": MODEL}]}},
            "policy": {"file": str(work / "policy.yaml")},
            "detectors": {"second_tier": {"enabled": False}},
            "limits": {
                "rules": [
                    {"scope": ["team"], "budgets": [{"period": "month", "usd": 5.0}]},
                    {"scope": ["app"], "budgets": [{"period": "day", "tokens": 100000}]},
                ],
                "pricing": {MODEL: {"input": 1.0, "output": 2.0}},
            },
            **extra,
        }
    )


@asynccontextmanager
async def admin_stack(work: Path, **extra: Any) -> AsyncIterator[AdminStack]:
    """A started gateway on ``work`` with tokens for every role and three keys:
    ``shop`` (alice's app, team fin), ``crm`` (bob's app, team sales) and ``ops``."""
    async with simulator() as upstream:
        apps = create_apps(stack_config(work, upstream, **extra))
        await apps.runtime.start()
        try:
            tokens_repo = AdminTokenRepository(apps.runtime.database)
            tokens: dict[str, str] = {}
            for who, (subject, role) in SUBJECTS.items():
                record, plaintext = new_admin_token(subject, role)
                await tokens_repo.create(record)
                tokens[who] = plaintext
            governance = apps.admin.api.state.admin_context.governance
            keys: dict[str, tuple[str, str]] = {}
            for name, owner, app, team in (
                ("shop", "alice", "shop", "fin"),
                ("crm", "bob", "crm", "sales"),
                ("ops", None, None, "ops"),
            ):
                spec = KeySpec(name=name, app=app, team=team, owner=owner)
                issued = await governance.create_key(identity("admin"), spec)
                keys[name] = (issued.stored.key_id, issued.plaintext)
            admin = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps.admin), base_url="http://admin"
            )
            proxy = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=apps.proxy), base_url="http://gateway"
            )
            async with admin, proxy:
                yield AdminStack(apps, admin, proxy, tokens, keys)
        finally:
            await apps.runtime.close()
