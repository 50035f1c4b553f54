"""Idempotency slots: claimed once, replayed while kept, freed on release; in memory, in a
SQLite file (shared by the processes of one machine) and in Redis (shared by processes).
All keep answers sealed with the content key, so neither Redis, the file nor the
process's heap of stored answers holds one in the clear."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.e2e.processes import free_port

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring, new_key
from bastion.errors import ConfigError, StorageError
from bastion.limits.idempotency import (
    Claimed,
    IdempotencyStore,
    InFlight,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    Reused,
    StoredAnswer,
    build_idempotency_store,
)
from bastion.limits.idempotency_sqlite import SqliteIdempotencyStore
from bastion.server.reload import sections_needing_restart

BODY = hashlib.sha256(b'{"model":"gpt-4o-mini","messages":[]}').digest()
OTHER = hashlib.sha256(b'{"model":"gpt-4o","messages":[]}').digest()
SECRET_ANSWER = b'{"choices":[{"message":{"content":"the launch code is 0000"}}]}'
ANSWER = StoredAnswer(200, (("content-type", "application/json"),), SECRET_ANSWER, False, "req_1")


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[IdempotencyStore]:
    """Each store, for what every store must do alike."""
    if request.param == "memory":
        yield MemoryIdempotencyStore(
            ttl_s=60, in_flight_ttl_s=60, max_bytes=1 << 20, keyring=Keyring.generate()
        )
        return
    if request.param == "sqlite":
        local = sqlite_store(tmp_path, Keyring.generate())
        try:
            yield local
        finally:
            await local.close()
        return
    shared = RedisIdempotencyStore(
        request.getfixturevalue("redis_url"),
        Keyring.generate(),
        ttl_s=60,
        in_flight_ttl_s=60,
        key_prefix=request.getfixturevalue("redis_prefix"),
    )
    try:
        yield shared
    finally:
        await shared.close()


async def test_a_free_key_is_claimed_then_in_flight_for_the_same_body(
    store: IdempotencyStore,
) -> None:
    assert isinstance(await store.claim("k1:a", BODY), Claimed)
    assert isinstance(await store.claim("k1:a", BODY), InFlight)
    assert isinstance(await store.claim("k1:a", OTHER), Reused)


async def test_a_completed_key_replays_its_answer_and_refuses_another_body(
    store: IdempotencyStore,
) -> None:
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    assert await store.claim("k1:a", BODY) == ANSWER
    assert await store.claim("k1:a", BODY) == ANSWER  # as often as asked
    assert isinstance(await store.claim("k1:a", OTHER), Reused)


async def test_a_released_key_runs_afresh_and_a_stale_token_changes_nothing(
    store: IdempotencyStore,
) -> None:
    first = await store.claim("k1:a", BODY)
    assert isinstance(first, Claimed)
    await store.release("k1:a", first.token)
    second = await store.claim("k1:a", OTHER)  # free again: any body may claim it
    assert isinstance(second, Claimed)
    await store.complete("k1:a", first.token, ANSWER)  # the first call no longer owns it
    await store.release("k1:a", first.token)
    assert isinstance(await store.claim("k1:a", OTHER), InFlight)


async def test_keys_are_separate_per_scope(store: IdempotencyStore) -> None:
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    assert isinstance(await store.claim("k2:a", BODY), Claimed)  # another gateway key
    assert isinstance(await store.claim("k1:b", BODY), Claimed)  # another Idempotency-Key


async def test_of_many_concurrent_claims_exactly_one_wins(store: IdempotencyStore) -> None:
    outcomes = await asyncio.gather(*(store.claim("k1:race", BODY) for _ in range(50)))
    assert sum(isinstance(o, Claimed) for o in outcomes) == 1
    assert sum(isinstance(o, InFlight) for o in outcomes) == 49


async def test_a_stream_answer_comes_back_byte_for_byte(store: IdempotencyStore) -> None:
    sse = b'data: {"choices":[{"delta":{"content":"h\\u00e9"}}]}\n\ndata: [DONE]\n\n'
    answer = StoredAnswer(200, (("x-bastion-decision", "allow"),), sse, True, "req_2")
    claimed = await store.claim("k1:s", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:s", claimed.token, answer)
    assert await store.claim("k1:s", BODY) == answer


def sqlite_store(
    work: Path, ring: Keyring, clock: Callable[[], float] | None = None, **options: Any
) -> SqliteIdempotencyStore:
    settings: dict[str, Any] = {"ttl_s": 60, "in_flight_ttl_s": 60, "max_bytes": 1 << 20}
    if clock is not None:
        settings["clock"] = clock
    return SqliteIdempotencyStore(work / "limits-idempotency.db", ring, **(settings | options))


# --- memory ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_answers_expire_after_the_ttl_and_in_flight_claims_free_themselves() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(ttl_s=100, in_flight_ttl_s=10, max_bytes=1 << 20, clock=clock)
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    clock.now += 99
    assert await store.claim("k1:a", BODY) == ANSWER
    clock.now += 2
    assert isinstance(await store.claim("k1:a", OTHER), Claimed)  # expired: free again
    assert store.stored_bytes == 0
    clock.now += 11  # the claim above never finished (a crashed call)
    assert isinstance(await store.claim("k1:a", BODY), Claimed)


async def _sealed_size() -> int:
    """Bytes one sealed ANSWER takes in a memory store."""
    store = MemoryIdempotencyStore(
        ttl_s=100, in_flight_ttl_s=10, max_bytes=1 << 20, keyring=Keyring.generate()
    )
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    return store.stored_bytes


@pytest.mark.parametrize("sealed", [True, False], ids=["content-key", "no-content-key"])
async def test_memory_drops_the_oldest_answers_past_its_byte_budget(sealed: bool) -> None:
    size = await _sealed_size() if sealed else ANSWER.size
    ring = Keyring.generate() if sealed else None
    store = MemoryIdempotencyStore(ttl_s=100, in_flight_ttl_s=10, max_bytes=size * 2, keyring=ring)
    for scope in ("k1:a", "k1:b", "k1:c"):
        claimed = await store.claim(scope, BODY)
        assert isinstance(claimed, Claimed)
        await store.complete(scope, claimed.token, ANSWER)
    assert store.stored_bytes == size * 2
    assert isinstance(await store.claim("k1:a", BODY), Claimed)  # dropped: runs afresh
    assert await store.claim("k1:c", BODY) == ANSWER


def _held(store: MemoryIdempotencyStore) -> list[object]:
    """What the memory store keeps for its finished slots (private: the K1 check)."""
    return [slot.answer for slot in store._done.values()]


async def test_memory_keeps_answers_sealed_when_the_keyring_has_a_content_key() -> None:
    store = MemoryIdempotencyStore(
        ttl_s=100, in_flight_ttl_s=10, max_bytes=1 << 20, keyring=Keyring.generate()
    )
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    (held,) = _held(store)
    assert isinstance(held, bytes) and b"launch code" not in held and b"req_1" not in held
    assert await store.claim("k1:a", BODY) == ANSWER  # opened only to be replayed


async def test_memory_without_a_content_key_keeps_answers_as_they_are() -> None:
    keys = [new_key("pseudonym"), new_key("fingerprint")]  # a ring from before content keys
    ring = Keyring(keys, {key.purpose: key.id for key in keys})
    store = MemoryIdempotencyStore(ttl_s=100, in_flight_ttl_s=10, max_bytes=1 << 20, keyring=ring)
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    assert _held(store) == [ANSWER]
    assert await store.claim("k1:a", BODY) == ANSWER


# --- sqlite (the workers of one machine) -----------------------------------------------


async def test_sqlite_slots_are_shared_by_processes_on_one_file(tmp_path: Path) -> None:
    ring = Keyring.generate()
    one, two = sqlite_store(tmp_path, ring), sqlite_store(tmp_path, ring)
    try:
        claimed = await one.claim("k1:a", BODY)
        assert isinstance(claimed, Claimed)
        assert isinstance(await two.claim("k1:a", BODY), InFlight)  # a retry on another worker
        assert isinstance(await two.claim("k1:a", OTHER), Reused)
        await one.complete("k1:a", claimed.token, ANSWER)
        assert await two.claim("k1:a", BODY) == ANSWER
    finally:
        await one.close()
        await two.close()


def _files(work: Path) -> dict[str, bytes]:
    """The bytes of the slots' file and its SQLite companions (-wal, -shm, .lock)."""
    return {found.name: found.read_bytes() for found in work.glob("limits-idempotency.db*")}


async def test_sqlite_never_holds_the_answer_or_the_body_digest_in_the_clear(
    tmp_path: Path,
) -> None:
    store = sqlite_store(tmp_path, Keyring.generate())
    try:
        claimed = await store.claim("k1:a", BODY)
        assert isinstance(claimed, Claimed)
        await store.complete("k1:a", claimed.token, ANSWER)
        assert await store.claim("k1:a", BODY) == ANSWER
        files = _files(tmp_path)
        assert any(name.endswith("-wal") for name in files)  # the write-ahead log too
        for data in files.values():
            assert b"launch code" not in data and b"req_1" not in data
            assert BODY not in data and BODY.hex().encode() not in data
    finally:
        await store.close()


async def test_sqlite_answers_expire_and_claims_of_dead_processes_are_dropped(
    tmp_path: Path,
) -> None:
    clock, ring = Clock(), Keyring.generate()
    store = sqlite_store(tmp_path, ring, clock, ttl_s=100, in_flight_ttl_s=10)
    claimed = await store.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await store.complete("k1:a", claimed.token, ANSWER)
    clock.now += 99
    assert await store.claim("k1:a", BODY) == ANSWER
    clock.now += 2
    assert isinstance(await store.claim("k1:a", OTHER), Claimed)  # expired: free again
    assert store.stored_bytes() == 0
    clock.now += 11  # that claim never finished (a crashed call)
    assert isinstance(await store.claim("k1:a", BODY), Claimed)
    assert isinstance(await store.claim("k1:b", BODY), Claimed)
    await store.close()  # the last process using the file stops mid-call
    restarted = sqlite_store(tmp_path, ring, clock)
    try:
        assert isinstance(await restarted.claim("k1:b", BODY), Claimed)  # not a 409 for 900 s
    finally:
        await restarted.close()


async def test_sqlite_drops_the_oldest_answers_past_its_byte_budget(tmp_path: Path) -> None:
    clock, ring = Clock(), Keyring.generate()
    probe = sqlite_store(tmp_path / "probe", ring)
    claimed = await probe.claim("k1:a", BODY)
    assert isinstance(claimed, Claimed)
    await probe.complete("k1:a", claimed.token, ANSWER)
    size = probe.stored_bytes()
    await probe.close()
    store = sqlite_store(tmp_path, ring, clock, max_bytes=size * 2)
    try:
        for scope in ("k1:a", "k1:b", "k1:c"):
            clock.now += 1
            claimed = await store.claim(scope, BODY)
            assert isinstance(claimed, Claimed)
            await store.complete(scope, claimed.token, ANSWER)
        assert store.stored_bytes() == size * 2
        assert isinstance(await store.claim("k1:a", BODY), Claimed)  # dropped: runs afresh
        assert await store.claim("k1:c", BODY) == ANSWER
    finally:
        await store.close()


# --- redis ----------------------------------------------------------------------------


async def test_redis_never_holds_the_answer_or_the_body_digest_in_the_clear(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisIdempotencyStore(
        redis_url, Keyring.generate(), ttl_s=60, in_flight_ttl_s=5, key_prefix=redis_prefix
    )
    client = redis.Redis.from_url(redis_url)
    try:
        claimed = await store.claim("k1:a", BODY)
        assert isinstance(claimed, Claimed)
        (key,) = client.keys(f"{redis_prefix}idem:*")
        assert 0 < client.pttl(key) <= 5000  # an in-flight claim frees itself
        await store.complete("k1:a", claimed.token, ANSWER)
        value = client.get(key)
        assert value is not None
        assert (
            b"launch code" not in value and BODY not in value and BODY.hex().encode() not in value
        )
        assert 5000 < client.pttl(key) <= 60_000
    finally:
        client.close()
        await store.close()


async def test_redis_slots_are_shared_by_processes_with_the_same_keyring(
    redis_url: str, redis_prefix: str
) -> None:
    ring = Keyring.generate()
    one, two = (
        RedisIdempotencyStore(
            redis_url, ring, ttl_s=60, in_flight_ttl_s=60, key_prefix=redis_prefix
        )
        for _ in range(2)
    )
    try:
        claimed = await one.claim("k1:a", BODY)
        assert isinstance(claimed, Claimed)
        assert isinstance(await two.claim("k1:a", BODY), InFlight)
        await one.complete("k1:a", claimed.token, ANSWER)
        assert await two.claim("k1:a", BODY) == ANSWER
    finally:
        await one.close()
        await two.close()


async def test_a_redis_slot_that_does_not_open_is_never_replayed(
    redis_url: str, redis_prefix: str
) -> None:
    writer = RedisIdempotencyStore(
        redis_url, Keyring.generate(), ttl_s=60, in_flight_ttl_s=60, key_prefix=redis_prefix
    )
    stranger = RedisIdempotencyStore(  # another keyring: cannot open what writer sealed
        redis_url, Keyring.generate(), ttl_s=60, in_flight_ttl_s=60, key_prefix=redis_prefix
    )
    try:
        claimed = await writer.claim("k1:a", BODY)
        assert isinstance(claimed, Claimed)
        await writer.complete("k1:a", claimed.token, ANSWER)
        assert isinstance(await stranger.claim("k1:a", BODY), Reused)
    finally:
        await writer.close()
        await stranger.close()


async def test_unreachable_redis_is_a_storage_error() -> None:
    store = RedisIdempotencyStore(
        f"redis://127.0.0.1:{free_port()}/0",
        Keyring.generate(),
        ttl_s=60,
        in_flight_ttl_s=60,
        timeout_s=0.2,
    )
    try:
        with pytest.raises(StorageError, match="idempotency store"):
            await store.claim("k1:a", BODY)
    finally:
        await store.close()


# --- which store ----------------------------------------------------------------------


def _config(**sections: Any) -> BastionConfig:
    return BastionConfig.model_validate(sections)


async def test_the_store_follows_limits_store_and_can_be_turned_off() -> None:
    ring = Keyring.generate()
    memory = build_idempotency_store(_config(), ring)
    assert memory is not None and memory.name == "memory"
    shared = build_idempotency_store(
        _config(limits={"store": "redis"}, redis={"url": "redis://127.0.0.1:6379/0"}), ring
    )
    assert shared is not None and shared.name == "redis"
    await shared.close()
    workers = build_idempotency_store(_config(server={"workers": 2}), ring)
    assert workers is not None and workers.name == "sqlite"
    await workers.close()
    assert build_idempotency_store(_config(limits={"idempotency": False}), ring) is None


def test_the_idempotency_settings_are_limits_keys_with_a_one_day_ttl() -> None:
    limits = _config().limits
    assert limits.idempotency is True and limits.idempotency_ttl_s == 86400
    tuned = _config(limits={"idempotency_ttl_s": 3600, "idempotency_max_answer_bytes": 4096})
    assert tuned.limits.idempotency_ttl_s == 3600
    with pytest.raises(ValueError, match="idempotency"):
        _config(idempotency={"ttl_s": 60})  # no such section
    with pytest.raises(ValueError, match="idempotency_tll_s"):
        _config(limits={"idempotency_tll_s": 60})  # a typo is refused, not ignored


def test_redis_without_a_content_key_is_a_load_error() -> None:
    keys = [new_key("pseudonym"), new_key("fingerprint")]  # a ring from before content keys
    ring = Keyring(keys, {key.purpose: key.id for key in keys})
    with pytest.raises(ConfigError, match="no content key"):
        build_idempotency_store(
            _config(limits={"store": "redis"}, redis={"url": "redis://127.0.0.1:6379/0"}), ring
        )


def test_a_reload_that_changes_an_idempotency_key_says_it_needs_a_restart() -> None:
    old = _config()
    new = _config(limits={"idempotency_ttl_s": 600})
    assert sections_needing_restart(old, new) == ["limits.idempotency_ttl_s"]
    assert sections_needing_restart(old, _config(limits={"timezone": "Europe/Berlin"})) == []
