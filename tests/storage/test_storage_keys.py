"""KeyRepository and AdminTokenRepository on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bastion.errors import StorageError
from bastion.storage import (
    AdminTokenRepository,
    ChangeFeed,
    Database,
    KeyRepository,
    KeyStatus,
    StoredAdminToken,
    StoredKey,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_key(key_id: str = "abcd1234", **fields: Any) -> StoredKey:
    values: dict[str, Any] = {
        "key_id": key_id,
        "name": "support bot",
        "secret_hash": "f" * 64,
        "created_at": NOW,
        "created_by": "local-admin",
    }
    values.update(fields)
    return StoredKey(**values)


async def test_key_round_trips_every_field(database: Database) -> None:
    key = make_key(
        user="ana",
        app="helpdesk",
        team="support",
        environment="prod",
        roles=("agent", "tier2"),
        owner="ops-lead",
        models=("gpt-4o", "gpt-4o-mini"),
        trust_end_user=True,
        expires_at=NOW + timedelta(days=90),
    )
    repo = KeyRepository(database)
    await repo.create(key)
    assert await repo.get("abcd1234") == key
    assert await repo.get("missing0") is None


async def test_timestamps_come_back_timezone_aware_utc(database: Database) -> None:
    paris = datetime(2026, 3, 1, 13, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    repo = KeyRepository(database)
    await repo.create(make_key(created_at=paris))
    stored = await repo.get("abcd1234")
    assert stored is not None
    assert stored.created_at.tzinfo is not None
    assert stored.created_at == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)


async def test_duplicate_key_id_is_a_storage_error(database: Database) -> None:
    repo = KeyRepository(database)
    await repo.create(make_key())
    with pytest.raises(StorageError):
        await repo.create(make_key(name="other"))


async def test_revoke_once_then_refuses_and_list_hides_it(database: Database) -> None:
    repo = KeyRepository(database)
    await repo.create(make_key("keep0000"))
    await repo.create(make_key("drop0000", created_at=NOW + timedelta(seconds=1)))
    assert await repo.revoke("drop0000", NOW) is True
    assert await repo.revoke("drop0000", NOW) is False
    assert await repo.revoke("unknown0", NOW) is False
    assert [k.key_id for k in await repo.list(now=NOW)] == ["keep0000"]
    every = await repo.list(include_revoked=True, now=NOW)
    assert [k.key_id for k in every] == ["keep0000", "drop0000"]
    assert every[1].status(NOW) is KeyStatus.REVOKED


async def test_rotate_links_old_to_new_atomically(database: Database) -> None:
    repo = KeyRepository(database)
    await repo.create(make_key("old00000"))
    grace_until = NOW + timedelta(hours=24)
    new = make_key("new00000", secret_hash="e" * 64)
    assert await repo.rotate("old00000", new, grace_until=grace_until) is True
    old = await repo.get("old00000")
    assert old is not None
    assert (old.replaced_by, old.grace_until) == ("new00000", grace_until)
    assert old.status(NOW) is KeyStatus.GRACE
    assert old.status(grace_until) is KeyStatus.REPLACED
    assert await repo.get("new00000") == new
    # Listing hides the old key once its grace is over.
    later = grace_until + timedelta(seconds=1)
    assert [k.key_id for k in await repo.list(now=later)] == ["new00000"]


async def test_rotating_a_revoked_key_writes_nothing(database: Database) -> None:
    repo = KeyRepository(database)
    await repo.create(make_key("old00000"))
    await repo.revoke("old00000", NOW)
    assert await repo.rotate("old00000", make_key("new00000"), grace_until=NOW) is False
    assert await repo.get("new00000") is None


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, KeyStatus.ACTIVE),
        ({"expires_at": NOW}, KeyStatus.EXPIRED),
        ({"expires_at": NOW + timedelta(seconds=1)}, KeyStatus.ACTIVE),
        ({"revoked_at": NOW - timedelta(days=1)}, KeyStatus.REVOKED),
        ({"replaced_by": "x", "grace_until": NOW + timedelta(hours=1)}, KeyStatus.GRACE),
        ({"replaced_by": "x", "grace_until": NOW}, KeyStatus.REPLACED),
    ],
)
def test_key_status(fields: dict[str, Any], status: KeyStatus) -> None:
    assert make_key(**fields).status(NOW) is status


async def test_every_key_write_appends_to_the_change_feed(database: Database) -> None:
    repo, feed = KeyRepository(database), ChangeFeed(database)
    await repo.create(make_key("old00000"))
    await repo.rotate("old00000", make_key("new00000"), grace_until=NOW)
    await repo.revoke("new00000", NOW)
    await repo.revoke("new00000", NOW)  # no change: nothing recorded
    assert [kind for _, kind in await feed.since(0)] == ["keys", "keys", "keys"]


async def test_admin_tokens_create_list_revoke(database: Database) -> None:
    repo = AdminTokenRepository(database)
    token = StoredAdminToken("tok00001", "alice", "admin", "a" * 64, NOW)
    other = StoredAdminToken("tok00002", "bob", "auditor", "b" * 64, NOW + timedelta(seconds=1))
    await repo.create(token)
    await repo.create(other)
    assert await repo.get("tok00001") == token
    assert await repo.count_active("admin") == 1
    assert await repo.revoke("tok00001", NOW) is True
    assert await repo.revoke("tok00001", NOW) is False
    assert await repo.count_active("admin") == 0
    assert [t.token_id for t in await repo.list()] == ["tok00002"]
    assert len(await repo.list(include_revoked=True)) == 2
    revoked = await repo.get("tok00001")
    assert revoked is not None and not revoked.is_active(NOW)
    kinds = [kind for _, kind in await ChangeFeed(database).since(0)]
    assert kinds == ["admin_tokens"] * 3
