"""Console sessions across replicas: two gateways (two ``create_apps``, as two
processes or replicas would run) on one shared database, behind a load balancer the
test steers. A session opened on one works on the other, an OIDC sign-in begun on one
finishes on the other, and a logout on either is refused by both from the next request
on — on SQLite (workers of one host) and on PostgreSQL (replicas)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from tests.conftest import fresh_postgres_database
from tests.console.console_client import form_token, log_in
from tests.console.oidc_provider import (
    Provider,
    oidc_provider,
    oidc_settings,
)
from tests.server.admin_stack import AdminStack, admin_stack

from bastion.console.session import SESSION_COOKIE, ConsoleSessions
from bastion.crypto.keyring import Keyring, write_keyring
from bastion.server.app import Apps, create_apps
from bastion.storage import Database
from bastion.storage.console_sessions import ConsoleSessionRepository
from bastion.storage.tables import ConsoleSessionRow

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECURITY = {"sub": "u-1", "email": "sam@example.com", "groups": ["bastion-security"]}


class Balancer(httpx.AsyncBaseTransport):
    """A load balancer in front of the replicas' admin apps: each request goes to the
    replica ``to`` names (the test picks, so nothing depends on luck)."""

    def __init__(self, *apps: Apps) -> None:
        self.replicas = [httpx.ASGITransport(app=apps_.admin) for apps_ in apps]
        self.to = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.replicas[self.to].handle_async_request(request)


@dataclass
class Replicas:
    """The first replica's stack (tokens, keys), the second replica, the balancer."""

    first: AdminStack
    second: Apps
    balancer: Balancer

    def browser(self, provider: Provider) -> httpx.AsyncClient:
        """One browser, one cookie jar, reaching the console through the balancer."""
        return httpx.AsyncClient(
            transport=self.balancer,
            mounts={provider.issuer: httpx.AsyncHTTPTransport()},
            base_url="http://admin",
            timeout=60,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def provider() -> AsyncIterator[Provider]:
    async with oidc_provider() as running:
        yield running


@asynccontextmanager
async def two_replicas(work: Path, url: str, provider: Provider) -> AsyncIterator[Replicas]:
    oidc = oidc_settings(provider, {"bastion-security": "security"})
    extra: dict[str, Any] = {
        "server": {"max_body_bytes": 65536, "admin": {"oidc": oidc}},
        "storage": {"url": url, "poll_interval_s": 0.05},
        "audit": {"wal_dir": str(work / "audit-wal")},
    }
    if not url.startswith("sqlite"):  # replicas share one keyring file, as deployed
        write_keyring(work / "keyring.json", Keyring.generate())
        extra["crypto"] = {"keyring_file": str(work / "keyring.json")}
    async with admin_stack(work, **extra) as first:
        second = create_apps(first.apps.runtime.config)
        await second.runtime.start()
        try:
            yield Replicas(first, second, Balancer(first.apps, second))
        finally:
            await second.runtime.close()


@pytest.fixture(
    scope="module",
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def shared_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One fresh database for both replicas of this module, per backend (PostgreSQL as
    ``tests/conftest.py`` makes it: skipped when unreachable, except with ``CI=true``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('replicas-db') / 'gateway.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def replicas(
    shared_url: str, provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Replicas]:
    async with two_replicas(tmp_path_factory.mktemp("replicas"), shared_url, provider) as running:
        yield running


async def page(browser: httpx.AsyncClient, balancer: Balancer, replica: int) -> httpx.Response:
    """The exceptions page as served by ``replica``."""
    balancer.to = replica
    return await browser.get("/console/exceptions")


async def log_out(browser: httpx.AsyncClient, balancer: Balancer, replica: int) -> None:
    shown = await page(browser, balancer, replica)
    assert shown.status_code == 200, shown.text
    out = await browser.post("/console/logout", data={"csrf": form_token(shown.text)})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"


async def test_a_token_session_opened_on_one_replica_ends_on_both_at_logout(
    replicas: Replicas, provider: Provider
) -> None:
    balancer = replicas.balancer
    async with replicas.browser(provider) as browser, replicas.browser(provider) as thief:
        balancer.to = 0
        assert (await log_in(browser, replicas.first.tokens["security"])).status_code == 303
        cookie = browser.cookies[SESSION_COOKIE]
        thief.cookies.set(SESSION_COOKIE, cookie)  # a copy, as a stolen or second tab would be
        for replica in (1, 0):
            shown = await page(browser, balancer, replica)
            assert shown.status_code == 200 and "sec <small>(security)</small>" in shown.text

        await log_out(browser, balancer, 1)
        for replica in (0, 1):
            again = await page(thief, balancer, replica)
            assert again.status_code == 303, replica
            assert again.headers["location"] == "/console/login"


async def test_an_oidc_sign_in_begun_on_one_replica_finishes_on_the_other(
    replicas: Replicas, provider: Provider
) -> None:
    balancer = replicas.balancer
    provider.user = dict(SECURITY)
    async with replicas.browser(provider) as browser:
        balancer.to = 0
        start = await browser.get("/console/oidc/login")
        assert start.status_code == 303
        back = await browser.get(start.headers["location"])  # the provider signs in at once
        callback = back.headers["location"]
        assert callback.startswith("http://admin/console/oidc/callback?")
        balancer.to = 1
        signed_in = await browser.get(callback)
        assert signed_in.status_code == 200, signed_in.text
        assert "Signed in as sam@example.com (security)" in signed_in.text
        cookie = browser.cookies[SESSION_COOKIE]
        for replica in (0, 1):
            shown = await page(browser, balancer, replica)
            assert shown.status_code == 200 and "sam@example.com" in shown.text

        await log_out(browser, balancer, 0)
        browser.cookies.set(SESSION_COOKIE, cookie)  # the old cookie replayed
        for replica in (1, 0):
            again = await page(browser, balancer, replica)
            assert again.status_code == 303 and again.headers["location"] == "/console/login"


async def test_the_store_keeps_a_hash_of_the_session_id_never_the_id(
    replicas: Replicas, provider: Provider
) -> None:
    async with replicas.browser(provider) as browser:
        assert (await log_in(browser, replicas.first.tokens["auditor"])).status_code == 303
        session_id = browser.cookies[SESSION_COOKIE].split(".")[1]
    database = replicas.second.runtime.database
    async with database.transaction("test") as db:
        rows = (await db.scalars(select(ConsoleSessionRow))).all()
    stored = [(r.id_hash, r.kind, r.subject, str(r.expires_at)) for r in rows]
    assert hashlib.sha256(session_id.encode()).hexdigest() in [r[0] for r in stored]
    assert session_id not in repr(stored)


async def test_without_the_store_a_session_is_refused_not_trusted(
    replicas: Replicas, provider: Provider
) -> None:
    console = replicas.second.admin.console
    working = console.sessions
    nowhere = Database.from_url("postgresql://bastion@127.0.0.1:1/nowhere")
    async with replicas.browser(provider) as browser:
        replicas.balancer.to = 1
        assert (await log_in(browser, replicas.first.tokens["security"])).status_code == 303
        shown = await page(browser, replicas.balancer, 1)
        console.sessions = ConsoleSessions(console.signer, ConsoleSessionRepository(nowhere))
        try:
            down = await page(browser, replicas.balancer, 1)
            assert down.status_code == 503 and "store is unavailable" in down.text
            out = await browser.post("/console/logout", data={"csrf": form_token(shown.text)})
            assert out.status_code == 503 and "store is unavailable" in out.text
        finally:
            console.sessions = working
            await nowhere.close()
        assert (await page(browser, replicas.balancer, 1)).status_code == 200  # still open
