"""Retained content through the admin API: plain content to record readers, encrypted
content only when the gateway may decrypt and to the roles allowed to, every read an
admin event naming its reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from tests.server.admin_stack import AdminStack, admin_stack

from bastion.audit.admin_events import ADMIN
from bastion.storage.audit_events import AuditEventRepository

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROMPT = "Quarterly notes for the ops review: keep the summary short"
RETENTION = {"content": {"default": "full", "apps": {"shop": "encrypted"}}}


async def _content(stack: AdminStack, who: str, request_id: str, **params: Any) -> httpx.Response:
    """The content route, once the content batch reached the store (it follows the reply)."""
    for _ in range(100):
        answer = await stack.api(who, "GET", f"/audit/events/{request_id}/content", **params)
        if answer.status_code != 404:
            return answer
        await asyncio.sleep(0.05)
    return answer


async def _call(stack: AdminStack, key: str) -> str:
    reply = await stack.chat(key, PROMPT)
    assert reply.status_code == 200
    await stack.settle()
    return reply.headers["x-bastion-request-id"]


async def _readers(stack: AdminStack, request_id: str) -> list[tuple[str, str]]:
    events = await AuditEventRepository(stack.apps.runtime.database).events_for(request_id, ADMIN)
    bodies = [orjson.loads(event.body) for event in events]
    return [(body["actor"], body["action"]) for body in bodies]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kept(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AdminStack]:
    """Full content by default, encrypted for app shop; the API may not decrypt."""
    async with admin_stack(tmp_path_factory.mktemp("content"), audit=RETENTION) as stack:
        yield stack


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def decrypting(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AdminStack]:
    """The same, with the API allowed to decrypt for admins and auditors."""
    audit = {**RETENTION, "admin_api_decrypts": True, "decrypt_roles": ["admin", "auditor"]}
    async with admin_stack(tmp_path_factory.mktemp("decrypting"), audit=audit) as stack:
        yield stack


async def test_plain_content_is_read_by_an_auditor_and_the_read_is_recorded(
    kept: AdminStack,
) -> None:
    request_id = await _call(kept, "ops")
    answer = await _content(kept, "auditor", request_id)
    assert answer.status_code == 200
    shown = answer.json()
    assert shown["mode"] == "full" and shown["intact"] is True
    assert PROMPT in str(shown["document"])
    assert ("aud", "content.read") in await _readers(kept, request_id)


async def test_encrypted_content_stays_closed_unless_the_gateway_may_decrypt(
    kept: AdminStack,
) -> None:
    request_id = await _call(kept, "shop")
    closed = await _content(kept, "admin", request_id)
    assert closed.status_code == 200
    assert closed.json()["mode"] == "encrypted" and closed.json()["document"] is None
    refused = await _content(kept, "admin", request_id, decrypt="true")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "decryption_disabled"
    assert PROMPT not in refused.text
    assert await _readers(kept, request_id) == []  # nothing was read


async def test_app_owners_and_unknown_calls(kept: AdminStack) -> None:
    request_id = await _call(kept, "ops")
    assert (await _content(kept, "owner", request_id)).status_code == 403
    missing = await kept.api("admin", "GET", "/audit/events/req_unknown/content")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "content_not_found"


async def test_decryption_is_for_the_configured_roles_and_each_one_is_an_event(
    decrypting: AdminStack,
) -> None:
    request_id = await _call(decrypting, "shop")
    opened = await _content(decrypting, "auditor", request_id, decrypt="true", reason="case 17")
    assert opened.status_code == 200
    assert opened.json()["intact"] is True and PROMPT in str(opened.json()["document"])
    security = await _content(decrypting, "security", request_id, decrypt="true")
    assert security.status_code == 403
    assert security.json()["error"]["code"] == "admin_role_required"
    assert await _readers(decrypting, request_id) == [("aud", "content.decrypt")]
