"""KeyVerifier: what authenticates, caching, invalidation, and the store being down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bastion.errors import AuthenticationFailed, ServiceUnavailable, StorageError
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.identity.changes import PollingChangeNotifier
from bastion.identity.issuing import IssuedKey, KeySpec, create_key, revoke_key, rotate_key
from bastion.identity.verifier import INVALID_KEY_MESSAGE, KeyVerifier
from bastion.storage import ChangeFeed, Database, KeyRepository, StoredKey

ADMIN = AdminIdentity("local-admin", AdminRole.ADMIN)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SwitchableStore:
    """The real repository, plus a switch that makes it fail like a down database."""

    def __init__(self, repo: KeyRepository) -> None:
        self.repo = repo
        self.down = False
        self.lookups = 0
        self.delay_s = 0.0

    async def get(self, key_id: str) -> StoredKey | None:
        self.lookups += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.down:
            raise StorageError("database key lookup failed (OperationalError)")
        return await self.repo.get(key_id)


@pytest.fixture
def repo(sqlite_database: Database) -> KeyRepository:
    return KeyRepository(sqlite_database)


@pytest.fixture
def store(repo: KeyRepository) -> SwitchableStore:
    return SwitchableStore(repo)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def verifier(store: SwitchableStore, clock: FakeClock) -> AsyncIterator[KeyVerifier]:
    verifier = KeyVerifier(store, cache_ttl_s=5.0, clock=clock)
    yield verifier
    await verifier.close()


async def issue(repo: KeyRepository, **fields: object) -> IssuedKey:
    spec = KeySpec(**{"name": "bot", **fields})  # type: ignore[arg-type]
    return await create_key(repo, spec, actor=ADMIN)


async def test_valid_key_yields_its_principal_and_models(
    repo: KeyRepository, verifier: KeyVerifier
) -> None:
    issued = await issue(repo, app="helpdesk", team="support", roles=("agent",), models=("gpt-4o",))
    authenticated = await verifier.verify(issued.plaintext)
    assert authenticated.principal.key_id == issued.stored.key_id
    assert (authenticated.principal.app, authenticated.principal.team) == ("helpdesk", "support")
    assert authenticated.principal.roles == ("agent",)
    assert authenticated.allows_model("gpt-4o") and not authenticated.allows_model("gpt-4")


async def assert_rejected(verifier: KeyVerifier, presented: str | None) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await verifier.verify(presented)
    assert caught.value.message == INVALID_KEY_MESSAGE
    assert caught.value.status == 401 and caught.value.code == "invalid_api_key"
    if presented:
        assert presented not in caught.value.message
        assert presented[4:12] not in caught.value.message


async def test_missing_malformed_and_unknown_keys_fail_alike(
    repo: KeyRepository, verifier: KeyVerifier
) -> None:
    issued = await issue(repo)
    wrong_secret = issued.plaintext[:-4] + ("AAAA" if issued.plaintext[-4:] != "AAAA" else "BBBB")
    for presented in [
        None,
        "",
        "sk-proj-abc",
        "bst_short",
        "bst_unknown0_" + "a" * 32,
        wrong_secret,
    ]:
        await assert_rejected(verifier, presented)


async def test_revoked_key_fails(repo: KeyRepository, verifier: KeyVerifier) -> None:
    issued = await issue(repo)
    await revoke_key(repo, issued.stored.key_id, actor=ADMIN)
    await assert_rejected(verifier, issued.plaintext)


async def test_key_expiring_while_cached_stops_at_its_expiry(
    repo: KeyRepository, store: SwitchableStore, clock: FakeClock
) -> None:
    wall = FakeClock()
    wall.now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    verifier = KeyVerifier(store, clock=clock, wall_clock=wall)
    expires_at = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)
    issued = await issue(repo, expires_at=expires_at)
    await verifier.verify(issued.plaintext)
    wall.now += 2  # the entry is still fresh in the cache, but the key has expired
    await assert_rejected(verifier, issued.plaintext)
    await verifier.close()


async def test_expired_key_fails(repo: KeyRepository, verifier: KeyVerifier) -> None:
    issued = await issue(repo)
    expired = replace(issued.stored, key_id="expired1", expires_at=datetime.now(UTC))
    await repo.create(expired)
    await assert_rejected(verifier, "bst_expired1_" + issued.plaintext[13:])


async def test_rotated_key_with_grace_works_beside_the_new_one(
    repo: KeyRepository, verifier: KeyVerifier
) -> None:
    old = await issue(repo, team="support")
    new = await rotate_key(repo, old.stored.key_id, grace=timedelta(hours=1), actor=ADMIN)
    assert (await verifier.verify(old.plaintext)).principal.team == "support"
    assert (await verifier.verify(new.plaintext)).principal.team == "support"


async def test_rotated_key_without_grace_stops_now(
    repo: KeyRepository, verifier: KeyVerifier
) -> None:
    old = await issue(repo)
    new = await rotate_key(repo, old.stored.key_id, grace=timedelta(0), actor=ADMIN)
    await assert_rejected(verifier, old.plaintext)
    await verifier.verify(new.plaintext)


async def test_cached_key_needs_no_store_and_ttl_bounds_the_cache(
    repo: KeyRepository, store: SwitchableStore, verifier: KeyVerifier, clock: FakeClock
) -> None:
    issued = await issue(repo)
    await verifier.verify(issued.plaintext)
    await verifier.verify(issued.plaintext)
    assert store.lookups == 1
    await repo.revoke(issued.stored.key_id, datetime.now(UTC))
    clock.now += 5.0  # past the TTL: read again, and the revocation is seen
    await assert_rejected(verifier, issued.plaintext)
    assert store.lookups == 2


async def test_busy_key_is_refreshed_in_the_background(
    repo: KeyRepository, store: SwitchableStore, verifier: KeyVerifier, clock: FakeClock
) -> None:
    issued = await issue(repo)
    await verifier.verify(issued.plaintext)
    clock.now += 3.0  # past half the TTL: answered from cache, refreshed behind
    await verifier.verify(issued.plaintext)
    await asyncio.sleep(0.05)
    assert store.lookups == 2
    clock.now += 3.0  # 6 s after the first read, but only 3 s after the refresh
    store.down = True
    await verifier.verify(issued.plaintext)


async def test_unknown_ids_are_cached_negatively(
    store: SwitchableStore, verifier: KeyVerifier
) -> None:
    for _ in range(3):
        await assert_rejected(verifier, "bst_unknown0_" + "a" * 32)
    assert store.lookups == 1


async def test_concurrent_misses_share_one_lookup(
    repo: KeyRepository, store: SwitchableStore, verifier: KeyVerifier
) -> None:
    issued = await issue(repo)
    store.delay_s = 0.05
    results = await asyncio.gather(*(verifier.verify(issued.plaintext) for _ in range(20)))
    assert store.lookups == 1
    assert {r.principal.key_id for r in results} == {issued.stored.key_id}


async def test_store_down_cached_key_keeps_working_uncached_gets_503(
    repo: KeyRepository, store: SwitchableStore, verifier: KeyVerifier, clock: FakeClock
) -> None:
    cached, uncached = await issue(repo, name="a"), await issue(repo, name="b")
    await verifier.verify(cached.plaintext)
    store.down = True
    clock.now += 2.0
    await verifier.verify(cached.plaintext)
    assert verifier.cached_keys == 1
    with pytest.raises(ServiceUnavailable) as caught:
        await verifier.verify(uncached.plaintext)
    assert (caught.value.status, caught.value.code) == (503, "auth_unavailable")
    assert not verifier.store_reachable
    clock.now += 5.0  # verified longer ago than the TTL: no longer trusted
    with pytest.raises(ServiceUnavailable):
        await verifier.verify(cached.plaintext)


async def test_really_unreachable_store_gives_auth_unavailable() -> None:
    db = Database.from_url("postgresql://postgres@127.0.0.1:1/none")
    verifier = KeyVerifier(KeyRepository(db))
    try:
        with pytest.raises(ServiceUnavailable, match="unavailable"):
            await verifier.verify("bst_abcd1234_" + "a" * 32)
    finally:
        await verifier.close()
        await db.close()


async def test_revocation_reaches_the_verifier_within_one_poll(
    sqlite_database: Database, repo: KeyRepository, verifier: KeyVerifier
) -> None:
    notifier = PollingChangeNotifier(ChangeFeed(sqlite_database), interval_s=0.05)
    notifier.subscribe("keys", verifier.invalidate)
    await notifier.start()
    try:
        issued = await issue(repo)
        await verifier.verify(issued.plaintext)
        await revoke_key(repo, issued.stored.key_id, actor=ADMIN)
        await asyncio.sleep(0.3)  # a few poll intervals; the fake clock never moves
        await assert_rejected(verifier, issued.plaintext)
    finally:
        await notifier.close()


async def test_invalidate_one_key(
    repo: KeyRepository, store: SwitchableStore, verifier: KeyVerifier
) -> None:
    first, second = await issue(repo, name="a"), await issue(repo, name="b")
    await verifier.verify(first.plaintext)
    await verifier.verify(second.plaintext)
    verifier.invalidate(first.stored.key_id)
    await verifier.verify(first.plaintext)
    await verifier.verify(second.plaintext)
    assert store.lookups == 3


async def test_hanging_store_gives_auth_unavailable_after_the_lookup_timeout(
    repo: KeyRepository, store: SwitchableStore, clock: FakeClock
) -> None:
    issued = await issue(repo)
    store.delay_s = 5.0
    verifier = KeyVerifier(store, lookup_timeout_s=0.05, clock=clock)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            await verifier.verify(issued.plaintext)
        assert caught.value.code == "auth_unavailable"
    finally:
        await verifier.close()
