"""Idempotency slots: one answer per gateway key and ``Idempotency-Key``, kept for a while.

A slot is named by its scope (the gateway key id and a digest of the caller's
``Idempotency-Key``) and holds the fingerprint of the request that claimed it. It is
either *in flight* (claimed by a running call, freed after ``in_flight_ttl_s`` should
the process die) or *done* (the final answer, kept ``ttl_s``). ``claim`` is atomic: of
two calls claiming one free slot, exactly one gets ``Claimed``; the other sees the
slot ``InFlight`` — or ``Reused`` when its body differs.

Stored answers are content (RELIABILITY.md K1): every store seals them with AES-256-GCM
under the keyring's content key, the slot's name being the associated data. The Redis
store and the sqlite store (``idempotency_sqlite``, the file the workers of one machine
share) seal the whole slot (the request's fingerprint too), so neither holds a prompt's
digest or an answer in the clear; the memory store seals answers whenever the keyring
has a content key. A done slot is deleted ``ttl_s`` after its call ended.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import orjson
from redis.exceptions import RedisError

from bastion.config.schema import BastionConfig
from bastion.crypto.content import ContentUnreadable, seal, unseal
from bastion.crypto.keyring import Keyring
from bastion.errors import ConfigError, StorageError
from bastion.limits.build import shared_file
from bastion.limits.redis_store import unretried_client

_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A final answer as the client received it: status, headers, body (a stream's SSE
    bytes when ``stream``), and the request id of the call that produced it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stream: bool
    request_id: str

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError("a stored answer needs an HTTP status")

    @property
    def size(self) -> int:
        """Bytes the answer takes (body and headers)."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers)


def encode_slot(header: dict[str, Any], answer: StoredAnswer | None) -> bytes:
    """One line of JSON (``header`` and the answer's metadata), then the answer's body."""
    if answer is not None:
        header = {
            **header,
            "status": answer.status,
            "headers": [list(pair) for pair in answer.headers],
            "stream": answer.stream,
            "request_id": answer.request_id,
        }
    return orjson.dumps(header) + b"\n" + (answer.body if answer is not None else b"")


def decode_slot(plain: bytes) -> tuple[dict[str, Any], StoredAnswer | None]:
    """The header of an encoded slot, and its answer (None while in flight)."""
    line, _, body = plain.partition(b"\n")
    header = orjson.loads(line)
    if not isinstance(header, dict):
        raise ContentUnreadable("not a sealed idempotency slot")
    if "status" not in header:
        return header, None
    return header, StoredAnswer(
        status=int(header["status"]),
        headers=tuple((str(k), str(v)) for k, v in header["headers"]),
        body=body,
        stream=bool(header["stream"]),
        request_id=str(header["request_id"]),
    )


def seal_slot(ring: Keyring, name: str, plain: bytes) -> bytes:
    """``<content key id>.<nonce || ciphertext>``, bound to the slot's ``name``."""
    key_id, blob = seal(ring, plain, name.encode())
    return key_id.encode("ascii") + b"." + blob


def unseal_slot(ring: Keyring, name: str, value: bytes) -> bytes:
    """The plaintext of ``seal_slot``; ContentUnreadable when it does not open."""
    key_id, dot, blob = value.partition(b".")
    if not dot:
        raise ContentUnreadable("not a sealed idempotency slot")
    return unseal(ring, key_id.decode("ascii", "replace"), blob, name.encode())


@dataclass(frozen=True, slots=True)
class Claimed:
    """This call owns the slot; it must ``complete`` or ``release`` it with ``token``."""

    token: object


@dataclass(frozen=True, slots=True)
class InFlight:
    """Another call with the same body holds the slot and has not finished."""


@dataclass(frozen=True, slots=True)
class Reused:
    """The slot belongs to a request with another body (or endpoint)."""


Outcome = Claimed | InFlight | Reused | StoredAnswer


class IdempotencyStore(Protocol):
    """Where slots live. ``claim``, ``complete`` and ``release`` raise ``StorageError``
    when the backend cannot be reached; ``complete`` and ``release`` do nothing when
    the token no longer owns the slot (it expired and was claimed again)."""

    name: ClassVar[str]

    async def claim(self, scope: str, fingerprint: bytes) -> Outcome:
        """Claim a free slot, or say what holds it."""
        ...

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        """Turn a claimed slot into a done one holding ``answer``."""
        ...

    async def release(self, scope: str, token: object) -> None:
        """Free a claimed slot: a later call with the key runs afresh."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


@dataclass(slots=True)
class _Slot:
    fingerprint: bytes
    expires_at: float
    answer: StoredAnswer | bytes | None = None
    """None in flight; the answer sealed (bytes), or as is without a content key."""
    size: int = 0
    token: object = field(default_factory=object)


class MemoryIdempotencyStore:
    """Slots in this process's memory (``limits.store: memory``).

    With a ``keyring`` holding a content key, answers are kept sealed and opened only to
    be replayed. Done slots are kept in completion order (one TTL, so also expiry order)
    and evicted oldest first past ``max_bytes``; an evicted key runs afresh when
    retried."""

    name: ClassVar[str] = "memory"

    def __init__(
        self,
        *,
        ttl_s: float,
        in_flight_ttl_s: float,
        max_bytes: int,
        keyring: Keyring | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ring = keyring if keyring is not None and keyring.has("content") else None
        self._ttl_s = ttl_s
        self._in_flight_ttl_s = in_flight_ttl_s
        self._max_bytes = max_bytes
        self._clock = clock
        self._in_flight: dict[str, _Slot] = {}
        self._done: OrderedDict[str, _Slot] = OrderedDict()
        self._bytes = 0

    @property
    def stored_bytes(self) -> int:
        """Bytes of answers held now."""
        return self._bytes

    async def claim(self, scope: str, fingerprint: bytes) -> Outcome:
        # no await between the look-up and the insert: atomic on the event loop
        now = self._clock()
        self._purge(now)
        slot = self._done.get(scope) or self._in_flight.get(scope)
        if slot is not None and slot.expires_at <= now:
            self._in_flight.pop(scope, None)
            slot = None
        if slot is None:
            slot = _Slot(fingerprint, now + self._in_flight_ttl_s)
            self._in_flight[scope] = slot
            return Claimed(slot.token)
        if slot.fingerprint != fingerprint:
            return Reused()
        if slot.answer is None:
            return InFlight()
        if isinstance(slot.answer, StoredAnswer):
            return slot.answer
        try:
            _, answer = decode_slot(unseal_slot(self._sealer(), scope, slot.answer))
        except ContentUnreadable:
            return Reused()
        return answer if answer is not None else Reused()

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        slot = self._in_flight.get(scope)
        if slot is None or slot.token is not token:
            return
        del self._in_flight[scope]
        if answer.size > self._max_bytes:
            return
        if self._ring is None:
            slot.answer, slot.size = answer, answer.size
        else:
            slot.answer = seal_slot(self._ring, scope, encode_slot({}, answer))
            slot.size = len(slot.answer)
        slot.expires_at = self._clock() + self._ttl_s
        self._done[scope] = slot
        self._bytes += slot.size
        while self._bytes > self._max_bytes:
            self._drop_oldest()

    async def release(self, scope: str, token: object) -> None:
        slot = self._in_flight.get(scope)
        if slot is not None and slot.token is token:
            del self._in_flight[scope]

    async def close(self) -> None:
        self._in_flight.clear()
        self._done.clear()
        self._bytes = 0

    def _purge(self, now: float) -> None:
        while self._done:
            oldest = next(iter(self._done.values()))
            if oldest.expires_at > now:
                return
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, slot = self._done.popitem(last=False)
        self._bytes -= slot.size

    def _sealer(self) -> Keyring:
        assert self._ring is not None  # sealed answers exist only with a content key
        return self._ring


# KEYS[1] slot; ARGV[1] sealed in-flight value, ARGV[2] its TTL (ms).
# The current value, or nil after claiming the free slot.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# KEYS[1] slot; ARGV[1] the claiming value; ARGV[2] new value ('' deletes), ARGV[3] TTL.
# Only the call that claimed the slot (its sealed value, unique by nonce) may change it.
_REPLACE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""


class RedisIdempotencyStore:
    """Slots in Redis (``limits.store: redis``), shared by every worker and replica.

    Each slot is one string: the content key's id, a dot, then the AES-GCM sealed JSON
    header and body. A value that does not open (an unknown key, or altered) is treated
    as another request's: 422 rather than a replay of something unverified."""

    name: ClassVar[str] = "redis"

    def __init__(
        self,
        url: str,
        keyring: Keyring,
        *,
        ttl_s: float,
        in_flight_ttl_s: float,
        key_prefix: str = "bastion:",
        timeout_s: float = 1.0,
        max_connections: int = 64,
    ) -> None:
        self._redis = unretried_client(url, timeout_s=timeout_s, max_connections=max_connections)
        self._ring = keyring
        self._prefix = f"{key_prefix}idem:"
        self._ttl_ms = str(max(1, round(ttl_s * 1000)))
        self._in_flight_ms = str(max(1, round(in_flight_ttl_s * 1000)))
        self._deadline_s = timeout_s
        self._claim = self._redis.register_script(_CLAIM)
        self._replace = self._redis.register_script(_REPLACE)

    async def claim(self, scope: str, fingerprint: bytes) -> Outcome:
        key = self._prefix + scope
        mine = seal_slot(self._ring, key, encode_slot({"fp": fingerprint.hex()}, None))
        current = await self._run(lambda: self._claim(keys=[key], args=[mine, self._in_flight_ms]))
        if current is None:
            return Claimed((mine, fingerprint.hex()))
        try:
            header, answer = decode_slot(unseal_slot(self._ring, key, bytes(current)))
        except ContentUnreadable:
            return Reused()
        if header.get("fp") != fingerprint.hex():
            return Reused()
        return answer if answer is not None else InFlight()

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        mine, fingerprint = _owned(token)
        key = self._prefix + scope
        done = seal_slot(self._ring, key, encode_slot({"fp": fingerprint}, answer))
        await self._run(lambda: self._replace(keys=[key], args=[mine, done, self._ttl_ms]))

    async def release(self, scope: str, token: object) -> None:
        mine, _ = _owned(token)
        key = self._prefix + scope
        await self._run(lambda: self._replace(keys=[key], args=[mine, b"", "0"]))

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

    async def _run(self, command: Callable[[], Awaitable[Any]]) -> Any:
        try:
            async with asyncio.timeout(self._deadline_s):
                return await command()
        except _FAILURES as exc:
            raise StorageError("the idempotency store (Redis) cannot be reached") from exc


def _owned(token: object) -> tuple[bytes, str]:
    """The sealed value a Redis claim wrote, and the fingerprint it holds (hex)."""
    assert isinstance(token, tuple)
    value, fingerprint = token
    assert isinstance(value, bytes) and isinstance(fingerprint, str)
    return value, fingerprint


def build_idempotency_store(config: BastionConfig, keyring: Keyring) -> IdempotencyStore | None:
    """The store ``limits.store`` names, or None when ``limits.idempotency`` is false.

    ``memory`` with several workers is the workers' shared file (``sqlite``). ConfigError
    when Redis or the file would hold answers and the keyring has no content key."""
    limits = config.limits
    if not limits.idempotency:
        return None
    store = limits.store
    if store == "memory" and config.server.workers > 1:
        store = "sqlite"  # the workers share their answers, as they share their counters
    if store == "memory":
        return MemoryIdempotencyStore(
            ttl_s=limits.idempotency_ttl_s,
            in_flight_ttl_s=limits.idempotency_in_flight_ttl_s,
            max_bytes=limits.idempotency_max_memory_bytes,
            keyring=keyring,
        )
    if not keyring.has("content"):
        raise ConfigError(
            f"limits.idempotency: answers kept in {'Redis' if store == 'redis' else 'a file'} "
            "are encrypted, but the keyring has no content key; add one with `bastion crypto "
            "rotate content` (and give the file to every replica), or set "
            "limits.idempotency: false"
        )
    if store == "sqlite":
        # imported here: that module builds on this one's slot format
        from bastion.limits.idempotency_sqlite import SqliteIdempotencyStore, idempotency_file

        return SqliteIdempotencyStore(
            idempotency_file(shared_file(config)),
            keyring,
            ttl_s=limits.idempotency_ttl_s,
            in_flight_ttl_s=limits.idempotency_in_flight_ttl_s,
            max_bytes=limits.idempotency_max_memory_bytes,
        )
    if not config.redis.url:
        raise ConfigError("limits.store: redis needs redis.url (redis://host:6379/0)")
    try:
        return RedisIdempotencyStore(
            config.redis.url,
            keyring,
            ttl_s=limits.idempotency_ttl_s,
            in_flight_ttl_s=limits.idempotency_in_flight_ttl_s,
            key_prefix=config.redis.key_prefix,
            timeout_s=config.redis.timeout_s,
        )
    except ValueError:
        raise ConfigError(
            "redis.url: not a Redis URL; expected redis://[user:password@]host[:port][/db] "
            "(rediss:// for TLS)"
        ) from None
