"""Logging in to the console of an ``AdminStack`` the way a browser does: fetch the login
form, post the token with the form's token, keep the cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from tests.server.admin_stack import AdminStack


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
