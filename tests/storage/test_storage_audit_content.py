"""AuditContentRepository on SQLite and PostgreSQL: content by digest, purge with legal
holds, per-subject erasure by fingerprint; and the admin chain's appends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bastion.audit.admin_events import ADMIN_WRITER, AdminAction, record_admin_action
from bastion.audit.verify import verify
from bastion.errors import InvalidRequest, NotFound
from bastion.storage.audit_content import AuditContentRepository, HoldScope, StoredContent
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.database import Database

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CANARY = "canary-7f3a91@northwind-example.com"


def content(
    n: int,
    *,
    at: float = 1000.0,
    app: str | None = "helpdesk",
    team: str | None = "support",
    fingerprints: tuple[str, ...] = (),
    payload: str = '{"answer":[],"request":null,"truncated":false}',
) -> StoredContent:
    return StoredContent(
        digest=f"fp_00000000:{n:064x}",
        request_id=f"req_{n}",
        created_at=at,
        mode="full",
        payload=payload,
        app=app,
        team=team,
        fingerprints=fingerprints,
    )


async def test_content_round_trips_with_its_subjects(database: Database) -> None:
    repo = AuditContentRepository(database)
    item = content(1, fingerprints=("fp_a:01", "fp_b:02", "fp_a:01"))
    await repo.insert_many([item])
    await repo.insert_many([item])  # a retried batch is skipped, not an error
    stored = await repo.for_request("req_1")
    assert stored is not None
    assert stored.payload == item.payload and stored.digest == item.digest
    assert stored.fingerprints == ("fp_a:01", "fp_b:02")
    assert await repo.for_request("req_2") is None
    assert await repo.count() == 1


async def test_purge_deletes_expired_content_only(database: Database) -> None:
    repo = AuditContentRepository(database)
    await repo.insert_many([content(1, at=100.0), content(2, at=200.0), content(3, at=300.0)])
    assert (await repo.expired(250.0)).deleted == 2
    result = await repo.purge(250.0)
    assert (result.deleted, result.held) == (2, 0)
    assert await repo.for_request("req_1") is None and await repo.for_request("req_2") is None
    assert await repo.for_request("req_3") is not None


@pytest.mark.parametrize(
    ("scope", "value"),
    [("app", "billing"), ("team", "legal"), ("request", "req_2")],
    ids=["app", "team", "request"],
)
async def test_a_legal_hold_keeps_content_past_its_window_until_released(
    database: Database, scope: HoldScope, value: str
) -> None:
    repo = AuditContentRepository(database)
    await repo.insert_many(
        [
            content(1, at=100.0),
            content(2, at=100.0, app="billing", team="legal"),
            content(3, at=100.0, app="other", team="other"),
        ]
    )
    hold = await repo.add_hold(scope, value, "Matter 2026-17", "security-lead", NOW)
    assert [h.id for h in await repo.holds()] == [hold.id]
    assert (await repo.expired(500.0)).held == 1
    result = await repo.purge(500.0)
    assert (result.deleted, result.held) == (2, 1)
    assert await repo.for_request("req_2") is not None

    released = await repo.release_hold(hold.id, "security-lead", NOW)
    assert not released.active and released.released_by == "security-lead"
    assert await repo.holds() == []
    assert [h.id for h in await repo.holds(include_released=True)] == [hold.id]
    assert (await repo.purge(500.0)).deleted == 1
    assert await repo.for_request("req_2") is None


async def test_holds_need_a_scope_value_and_a_reason_and_release_once(database: Database) -> None:
    repo = AuditContentRepository(database)
    with pytest.raises(InvalidRequest, match="reason"):
        await repo.add_hold("app", "billing", " ", "me", NOW)
    with pytest.raises(InvalidRequest, match="needs the app"):
        await repo.add_hold("app", "", "Matter 1", "me", NOW)
    hold = await repo.add_hold("app", "billing", "Matter 1", "me", NOW)
    await repo.release_hold(hold.id, "me", NOW)
    with pytest.raises(InvalidRequest, match="already released"):
        await repo.release_hold(hold.id, "me", NOW)
    with pytest.raises(NotFound):
        await repo.release_hold("hold_missing", "me", NOW)


async def test_erasure_deletes_every_call_carrying_the_fingerprint_except_held(
    database: Database,
) -> None:
    repo = AuditContentRepository(database)
    await repo.insert_many(
        [
            content(1, fingerprints=("fp_k:aa", "fp_k:bb")),
            content(2, fingerprints=("fp_k:aa",), app="billing"),
            content(3, fingerprints=("fp_k:cc",)),
            content(4, fingerprints=("fp_old:aa",)),
        ]
    )
    await repo.add_hold("app", "billing", "Matter 9", "me", NOW)
    preview = await repo.find_subject(["fp_k:aa", "fp_old:aa"])
    assert set(preview.deleted) == {"req_1", "req_4"} and preview.held == ("req_2",)
    assert await repo.count() == 4  # a preview deletes nothing

    erased = await repo.erase(["fp_k:aa", "fp_old:aa"])
    assert set(erased.deleted) == {"req_1", "req_4"} and erased.held == ("req_2",)
    assert await repo.for_request("req_1") is None
    assert await repo.for_request("req_3") is not None
    assert (await repo.erase([])).deleted == ()
    again = await repo.erase(["fp_k:bb"])  # req_1's other subject went with its content
    assert again.deleted == ()


async def test_erased_content_leaves_no_bytes_in_the_sqlite_files(
    sqlite_database: Database, sqlite_url: str
) -> None:
    repo = AuditContentRepository(sqlite_database)
    payload = '{"answer":["' + CANARY + '"],"request":null,"truncated":false}'
    await repo.insert_many([content(1, fingerprints=("fp_k:aa",), payload=payload)])
    await repo.insert_many([content(2, payload='{"answer":["kept"]}')])
    files = Path(sqlite_url.removeprefix("sqlite:///")).parent

    def on_disk() -> bool:
        return any(CANARY.encode() in path.read_bytes() for path in files.iterdir())

    assert on_disk()  # positive control: the grep sees the stored text
    await repo.erase(["fp_k:aa"])
    assert await sqlite_database.scrub()
    assert not on_disk()


async def test_admin_events_form_a_verifiable_chain_across_concurrent_writers(
    database: Database,
) -> None:
    events = AuditEventRepository(database)

    async def act(n: int) -> None:
        action = AdminAction("hold.add", f"admin-{n}", "admin", f"hold_{n}", {"scope": "app"})
        await record_admin_action(events, action, 1000.0 + n)

    await asyncio.gather(*(act(n) for n in range(6)))
    state = await events.writer_state(ADMIN_WRITER)
    assert state is not None and state.head_seq == 6
    result = await verify(events)
    assert result.ok, result.problem
    assert result.heads == {ADMIN_WRITER: 6}
    assert len(await events.events_for("hold_3", "admin")) == 1
