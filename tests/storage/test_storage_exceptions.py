"""ExceptionRepository on SQLite and PostgreSQL: lifecycle, four-eyes rule, filters, uses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bastion.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from bastion.model import Principal
from bastion.model.exceptions import ExceptionState
from bastion.storage import ChangeFeed, Database, ExceptionRepository, StoredException

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


async def request(repo: ExceptionRepository, **fields: Any) -> StoredException:
    values: dict[str, Any] = {
        "rule": "secrets.block",
        "scope": {"app": "helpdesk"},
        "justification": "vendor migration needs the staging token",
        "expires_at": LATER,
        "requester": "ana",
        "now": NOW,
    }
    values.update(fields)
    return await repo.request(**values)


async def test_request_round_trips_and_starts_requested(database: Database) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo, scope={"team": "support", "app": "helpdesk"}, owner="ops")
    assert stored.id.startswith("exc_") and len(stored.id) == 20
    assert stored.state is ExceptionState.REQUESTED
    assert stored.scope == (("app", "helpdesk"), ("team", "support"))
    assert (stored.owner, stored.requester, stored.uses) == ("ops", "ana", 0)
    assert await repo.get(stored.id) == stored
    assert await repo.get("exc_missing") is None


async def test_owner_defaults_to_the_requester(database: Database) -> None:
    stored = await request(ExceptionRepository(database))
    assert stored.owner == "ana"


async def test_approve_by_someone_else_records_who_and_when(database: Database) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo)
    approved = await repo.approve(stored.id, approver="sec-lead", note="ok for 30d", now=NOW)
    assert approved.state is ExceptionState.APPROVED
    assert (approved.approver, approved.approved_at) == ("sec-lead", NOW)
    assert (approved.decided_by, approved.decision_note) == ("sec-lead", "ok for 30d")
    assert await repo.get(stored.id) == approved


async def test_the_requester_cannot_approve_their_own_request(database: Database) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo, requester="local-admin")
    with pytest.raises(PermissionDenied, match="approver must be someone else") as caught:
        await repo.approve(stored.id, approver="local-admin", now=NOW)
    assert caught.value.code == "approver_is_requester"
    unchanged = await repo.get(stored.id)
    assert unchanged is not None and unchanged.state is ExceptionState.REQUESTED


@pytest.mark.parametrize(
    ("first", "then", "message"),
    [
        ("deny", "approve", "it is denied; only requested exceptions can be approved"),
        ("approve", "approve", "it is approved; only requested exceptions can be approved"),
        ("approve", "deny", "it is approved; only requested exceptions can be denied"),
        (None, "revoke", "it is requested; only approved exceptions can be revoked"),
        ("deny", "revoke", "it is denied; only approved exceptions can be revoked"),
    ],
)
async def test_transitions_not_allowed_are_refused_clearly(
    database: Database, first: str | None, then: str, message: str
) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo)
    actions = {
        "approve": lambda: repo.approve(stored.id, approver="sec-lead", now=NOW),
        "deny": lambda: repo.deny(stored.id, decided_by="sec-lead", now=NOW),
        "revoke": lambda: repo.revoke(stored.id, decided_by="sec-lead", now=NOW),
    }
    if first is not None:
        await actions[first]()
    with pytest.raises(Conflict, match=message) as caught:
        await actions[then]()
    assert caught.value.code == "exception_state_conflict"


async def test_revoke_ends_an_approved_exception_and_keeps_the_approver(
    database: Database,
) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo)
    await repo.approve(stored.id, approver="sec-lead", now=NOW)
    revoked = await repo.revoke(stored.id, decided_by="ciso", now=NOW + timedelta(hours=1))
    assert revoked.state is ExceptionState.REVOKED
    assert (revoked.approver, revoked.decided_by) == ("sec-lead", "ciso")
    assert await repo.list_applicable(now=NOW + timedelta(hours=2)) == []


async def test_expired_exceptions_cannot_be_approved_or_revoked(database: Database) -> None:
    repo = ExceptionRepository(database)
    pending = await request(repo, expires_at=NOW + timedelta(days=1))
    approved = await request(repo, expires_at=NOW + timedelta(days=1))
    await repo.approve(approved.id, approver="sec-lead", now=NOW)
    after = NOW + timedelta(days=2)
    with pytest.raises(Conflict, match=r"it is expired.*Request a new one"):
        await repo.approve(pending.id, approver="sec-lead", now=after)
    with pytest.raises(Conflict, match="it is expired"):
        await repo.revoke(approved.id, decided_by="sec-lead", now=after)
    both = await repo.list(state=ExceptionState.EXPIRED, now=after)
    assert {e.id for e in both} == {pending.id, approved.id}
    assert all(e.status(after) is ExceptionState.EXPIRED for e in both)


async def test_unknown_ids_are_not_found(database: Database) -> None:
    repo = ExceptionRepository(database)
    with pytest.raises(NotFound, match="no exception with id 'exc_nope'"):
        await repo.approve("exc_nope", approver="sec-lead")
    with pytest.raises(NotFound):
        await repo.revoke("exc_nope", decided_by="sec-lead")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scope": {}}, "needs a scope"),
        ({"scope": {"app": "  "}}, "scope.app is empty"),
        ({"scope": {"environment": "prod"}}, "cannot scope an exception to environment"),
        ({"justification": " "}, "needs a justification"),
        ({"expires_at": NOW - timedelta(seconds=1)}, "expire in the future"),
        ({"rule": "Secrets Block"}, "is not a rule id"),
    ],
)
async def test_invalid_requests_are_refused_and_nothing_is_stored(
    database: Database, fields: dict[str, Any], message: str
) -> None:
    repo = ExceptionRepository(database)
    with pytest.raises(InvalidRequest, match=message):
        await request(repo, **fields)
    assert await repo.list() == []


async def test_list_filters_by_state_app_and_rule(database: Database) -> None:
    repo = ExceptionRepository(database)
    a = await request(repo, scope={"app": "helpdesk"})
    b = await request(repo, scope={"app": "billing"}, rule="pii.reroute", now=NOW + timedelta(1))
    c = await request(repo, scope={"user": "bo"}, now=NOW + timedelta(2))
    await repo.approve(a.id, approver="sec-lead", now=NOW)
    await repo.deny(c.id, decided_by="ana", note="withdrawn", now=NOW)
    assert [e.id for e in await repo.list(now=NOW)] == [a.id, b.id, c.id]
    assert [e.id for e in await repo.list(state=ExceptionState.APPROVED, now=NOW)] == [a.id]
    assert [e.id for e in await repo.list(state=ExceptionState.REQUESTED, now=NOW)] == [b.id]
    assert [e.id for e in await repo.list(state=ExceptionState.DENIED, now=NOW)] == [c.id]
    assert [e.id for e in await repo.list(app="billing")] == [b.id]
    assert [e.id for e in await repo.list(rule="secrets.block")] == [a.id, c.id]
    assert [e.id for e in await repo.list_applicable(now=NOW)] == [a.id]


async def test_list_current_keeps_thirty_days_of_history(database: Database) -> None:
    repo = ExceptionRepository(database)
    old = await request(repo, expires_at=NOW + timedelta(days=1))
    await repo.approve(old.id, approver="sec-lead", now=NOW)
    recent = await request(repo, expires_at=NOW + timedelta(days=60))
    await repo.approve(recent.id, approver="sec-lead", now=NOW)
    await repo.revoke(recent.id, decided_by="sec-lead", now=NOW + timedelta(days=5))
    live = await request(repo, expires_at=NOW + timedelta(days=90))
    await repo.approve(live.id, approver="sec-lead", now=NOW)
    since = NOW + timedelta(days=40) - timedelta(days=30)  # "now" is day 40
    assert {e.id for e in await repo.list_current(since)} == {recent.id, live.id}


async def test_record_use_counts_without_touching_the_change_feed(database: Database) -> None:
    repo = ExceptionRepository(database)
    feed = ChangeFeed(database)
    stored = await request(repo)
    before = await feed.latest()
    assert await repo.record_use(stored.id, 3, at=NOW) is True
    assert await repo.record_uses({stored.id: 2, "exc_unknown": 1}, at=LATER) == 1
    assert await repo.record_use("exc_unknown") is False
    counted = await repo.get(stored.id)
    assert counted is not None
    assert (counted.uses, counted.last_used_at) == (5, LATER)
    assert await feed.latest() == before


async def test_every_decision_appends_to_the_change_feed(database: Database) -> None:
    repo = ExceptionRepository(database)
    feed = ChangeFeed(database)
    start = await feed.latest()
    stored = await request(repo)
    await repo.approve(stored.id, approver="sec-lead", now=NOW)
    await repo.revoke(stored.id, decided_by="sec-lead", now=NOW)
    changes = await feed.since(start)
    assert [kind for _, kind in changes] == ["exceptions"] * 3


async def test_concurrent_approve_and_deny_leave_one_decision(database: Database) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo)
    results = await asyncio.gather(
        repo.approve(stored.id, approver="sec-lead", now=NOW),
        repo.deny(stored.id, decided_by="ciso", now=NOW),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict)
    final = await repo.get(stored.id)
    assert final is not None and final.state in (ExceptionState.APPROVED, ExceptionState.DENIED)


async def test_policy_exception_matches_scope_and_reads_expiry_from_the_clock(
    database: Database,
) -> None:
    repo = ExceptionRepository(database)
    stored = await request(repo, scope={"app": "helpdesk", "team": "support"})
    approved = await repo.approve(stored.id, approver="sec-lead", now=NOW)
    value = approved.to_policy_exception(NOW)
    caller = Principal(key_id="k1", name="bot", app="helpdesk", team="support")
    assert value.applies(caller, "secrets.block", NOW.timestamp())
    assert not value.applies(caller, "secrets.block", LATER.timestamp())
    assert not value.in_scope(Principal(key_id="k1", name="bot", app="helpdesk"))
    assert value.state_at(LATER.timestamp()) is ExceptionState.EXPIRED
    assert not value.static
