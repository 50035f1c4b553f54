"""The approver sets when an exception ends: ``expires_at`` or ``expires_in`` on the
approve route (checked: in the future, one of the two), shown in the exception and its
admin event, and the gateway stops applying it at that time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import pytest_asyncio
from tests.server.admin_stack import AdminStack, admin_stack

from bastion.audit.admin_events import ADMIN_WRITER
from bastion.storage.audit_events import AuditEventRepository

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "my key is AKIAQ3EGRTZ5LXKW7NUC and wJa1rXUtnFEMI/K7MDENG/bPxRfiCYz9kq2Lw8e"  # live-shaped


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AdminStack]:
    async with admin_stack(tmp_path_factory.mktemp("exception-expiry")) as running:
        yield running


async def request_one(stack: AdminStack, days: int = 30, app: str = "shop") -> str:
    body = {
        "rule": "secrets.block",
        "scope": {"app": app},
        "justification": "key rotation",
        "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
    }
    answer = await stack.api("owner" if app == "shop" else "admin", "POST", "/exceptions", body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def approve(stack: AdminStack, exc_id: str, body: dict[str, Any]) -> Any:
    return await stack.api("security", "POST", f"/exceptions/{exc_id}/approve", body)


async def admin_event(stack: AdminStack, action: str, target: str) -> dict[str, Any]:
    found = []
    async for page in AuditEventRepository(stack.apps.runtime.database).events(ADMIN_WRITER):
        found += [orjson.loads(event.body) for event in page]
    (event,) = [e for e in found if e["action"] == action and e["target"] == target]
    return event


async def test_the_approver_shortens_the_expiry_with_a_duration(stack: AdminStack) -> None:
    exc_id = await request_one(stack)
    before = datetime.now(UTC)
    answer = await approve(stack, exc_id, {"note": "a week is enough", "expires_in": "7d"})
    assert answer.status_code == 200, answer.text
    approved = answer.json()
    expires = datetime.fromisoformat(approved["expires_at"])
    assert approved["state"] == "approved"
    assert timedelta(days=7) <= expires - before <= timedelta(days=7, minutes=5)
    shown = (await stack.api("auditor", "GET", f"/exceptions/{exc_id}")).json()
    assert shown["expires_at"] == approved["expires_at"]
    event = await admin_event(stack, "exception.approve", exc_id)
    assert datetime.fromisoformat(event["details"]["expires_at"]) == expires.replace(microsecond=0)


async def test_without_an_expiry_the_requested_one_stays(stack: AdminStack) -> None:
    exc_id = await request_one(stack, days=12)
    requested = (await stack.api("security", "GET", f"/exceptions/{exc_id}")).json()
    approved = (await approve(stack, exc_id, {"note": "ok"})).json()
    assert approved["expires_at"] == requested["expires_at"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at", id="past"),
        pytest.param({"expires_at": "2030-01-01T00:00:00"}, "expires_at", id="no-zone"),
        pytest.param({"expires_in": "7x"}, "expires_in", id="bad-duration"),
        pytest.param({"expires_in": "0m"}, "expires_at", id="zero-duration"),
        pytest.param({"expires_in": "999999w"}, "expires_in", id="past-year-9999"),
        pytest.param({"expires_in": "7d", "expires_at": "2030-01-01T00:00:00Z"}, None, id="both"),
    ],
)
async def test_a_bad_expiry_is_refused_and_approves_nothing(
    stack: AdminStack, body: dict[str, Any], param: str | None
) -> None:
    exc_id = await request_one(stack)
    answer = await approve(stack, exc_id, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_value"
    if param is not None:
        assert error["param"] is not None and param in error["param"]
    state = (await stack.api("security", "GET", f"/exceptions/{exc_id}")).json()["state"]
    assert state == "requested"


async def test_the_exception_stops_applying_when_the_approver_said(stack: AdminStack) -> None:
    exc_id = await request_one(stack, app="crm")  # the only exception for crm
    ends = datetime.now(UTC) + timedelta(seconds=8)
    answer = await approve(stack, exc_id, {"expires_at": ends.isoformat()})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 60
    while True:  # the gateway loads the approval from the change feed
        call = await stack.chat("crm", SECRET)
        if call.headers.get("x-bastion-exception") == exc_id:
            break
        assert time.monotonic() < deadline, call.text
        assert datetime.now(UTC) < ends, "the approval did not reach the gateway in time"
        await asyncio.sleep(0.1)
    assert call.status_code == 200
    while True:
        call = await stack.chat("crm", SECRET)
        if call.status_code == 403:
            break
        assert time.monotonic() < deadline, "the exception still applies after its expiry"
        await asyncio.sleep(0.2)
    assert datetime.now(UTC) >= ends - timedelta(seconds=1)
    assert call.json()["error"]["code"] == "policy_violation"
    shown = (await stack.api("auditor", "GET", f"/exceptions/{exc_id}")).json()
    assert shown["state"] == "expired"
