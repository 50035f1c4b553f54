"""Logging in to the console of an ``AdminStack`` the way a browser does: fetch the login
form, post the token with the form's token, keep the cookies (or sign in through an
OIDC provider); and whether a browser is still signed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.console.oidc_provider import Provider, oidc_settings
from tests.server.admin_stack import AdminStack, admin_stack

from bastion.storage.admin_tokens import AdminTokenRepository


@asynccontextmanager
async def oidc_stack(
    work: Path, provider: Provider, role_map: dict[str, str], **extra: str
) -> AsyncIterator[AdminStack]:
    """An admin stack whose console also signs in through ``provider`` (``oidc_settings``)."""
    oidc = oidc_settings(provider, role_map, **extra)
    async with admin_stack(
        work, server={"max_body_bytes": 65536, "admin": {"oidc": oidc}}
    ) as running:
        yield running


async def sign_out_everyone(stack: AdminStack) -> None:
    """End every console session through the admin API (a test that starts with none)."""
    answer = await stack.api("admin", "POST", "/console/sessions/sign-out", {"all": True})
    assert answer.status_code == 200, answer.text


def form_token(html: str) -> str:
    """The first form's CSRF token in a page."""
    _, found, rest = html.partition('name="csrf" value="')
    assert found, "the page has no CSRF field"
    return rest.partition('"')[0]


def client(stack: AdminStack, base_url: str = "http://admin") -> httpx.AsyncClient:
    """A fresh cookie jar on the admin app."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.apps.admin), base_url=base_url)


async def log_in(browser: httpx.AsyncClient, token: str) -> httpx.Response:
    """Post ``token`` on the login form; the answer (a 303 when it worked)."""
    form = await browser.get("/console/login")
    assert form.status_code == 200, form.text
    return await browser.post(
        "/console/login", data={"csrf": form_token(form.text), "token": token}
    )


@asynccontextmanager
async def logged_in(stack: AdminStack, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a console session as ``who``."""
    async with client(stack) as browser:
        answer = await log_in(browser, stack.tokens[who])
        assert answer.status_code == 303, answer.text
        yield browser


async def post_form(
    browser: httpx.AsyncClient, page: str, action: str, fields: dict[str, str]
) -> httpx.Response:
    """Submit a form of ``page`` to ``action`` with the page's CSRF token."""
    shown = await browser.get(page)
    assert shown.status_code == 200, shown.text
    return await browser.post(action, data={"csrf": form_token(shown.text), **fields})


async def token_session(stack: AdminStack, who: str) -> httpx.AsyncClient:
    """A browser logged in with the admin token of ``who``."""
    browser = client(stack)
    answer = await log_in(browser, stack.tokens[who])
    assert answer.status_code == 303, answer.text
    return browser


async def oidc_session(
    stack: AdminStack, provider: Provider, user: dict[str, Any]
) -> httpx.AsyncClient:
    """A browser signed in through ``provider`` as ``user`` (its claims)."""
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.apps.admin),
        mounts={provider.issuer: httpx.AsyncHTTPTransport()},
        base_url="http://admin",
        follow_redirects=True,
        timeout=60,
    )
    provider.user = dict(user)
    answer = await browser.get("/console/oidc/login")
    assert answer.status_code == 200 and f"Signed in as {user['email']}" in answer.text
    browser.follow_redirects = False
    return browser


async def signed_in(browser: httpx.AsyncClient) -> bool:
    """Whether the console shows a page to this browser (not the login form)."""
    page = await browser.get("/console/overview")
    if page.status_code == 303:
        assert page.headers["location"] == "/console/login"
        return False
    assert page.status_code == 200, page.text
    return True


async def token_id(stack: AdminStack, subject: str) -> str:
    """The id of the one admin token of ``subject``."""
    tokens = await AdminTokenRepository(stack.apps.runtime.database).list()
    (found,) = [t.token_id for t in tokens if t.subject == subject]
    return found
