"""Idempotency slots: one answer per gateway key and ``Idempotency-Key``, kept for a while.

A slot is named by its scope (the gateway key id and a digest of the caller's
``Idempotency-Key``) and holds the fingerprint of the request that claimed it. It is
either *in flight* (claimed by a running call, freed after ``in_flight_ttl_s`` should
the process die) or *done* (the final answer, kept ``ttl_s``). ``claim`` is atomic: of
two calls claiming one free slot, exactly one gets ``Claimed``; the other sees the
slot ``InFlight`` — or ``Reused`` when its body differs.

Stored answers are content (RELIABILITY.md K1): the memory store keeps them in this
process only; the Redis store seals every slot with AES-256-GCM under the keyring's
content key (the slot's Redis key is the associated data), so Redis never holds a
prompt's digest or an answer in the clear.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import orjson
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bastion.config.schema import BastionConfig
from bastion.crypto.content import ContentUnreadable, seal, unseal
from bastion.crypto.keyring import Keyring
from bastion.errors import ConfigError, StorageError

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
    answer: StoredAnswer | None = None
    token: object = field(default_factory=object)


class MemoryIdempotencyStore:
    """Slots in this process's memory (``limits.store: memory``).

    Done slots are kept in completion order (one TTL, so also expiry order) and evicted
    oldest first past ``max_bytes``; an evicted key runs afresh when retried."""

    name: ClassVar[str] = "memory"

    def __init__(
        self,
        *,
        ttl_s: float,
        in_flight_ttl_s: float,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
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
        return slot.answer if slot.answer is not None else InFlight()

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        slot = self._in_flight.get(scope)
        if slot is None or slot.token is not token:
            return
        del self._in_flight[scope]
        if answer.size > self._max_bytes:
            return
        slot.answer = answer
        slot.expires_at = self._clock() + self._ttl_s
        self._done[scope] = slot
        self._bytes += answer.size
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
        assert slot.answer is not None
        self._bytes -= slot.answer.size


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
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._redis = redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        self._ring = keyring
        self._prefix = f"{key_prefix}idem:"
        self._ttl_ms = str(max(1, round(ttl_s * 1000)))
        self._in_flight_ms = str(max(1, round(in_flight_ttl_s * 1000)))
        self._deadline_s = timeout_s
        self._claim = self._redis.register_script(_CLAIM)
        self._replace = self._redis.register_script(_REPLACE)

    async def claim(self, scope: str, fingerprint: bytes) -> Outcome:
        key = self._prefix + scope
        mine = self._seal(key, {"fp": fingerprint.hex()}, b"")
        current = await self._run(lambda: self._claim(keys=[key], args=[mine, self._in_flight_ms]))
        if current is None:
            return Claimed((mine, fingerprint.hex()))
        try:
            header, body = self._open(key, bytes(current))
        except ContentUnreadable:
            return Reused()
        if header.get("fp") != fingerprint.hex():
            return Reused()
        if "status" not in header:
            return InFlight()
        return StoredAnswer(
            status=int(header["status"]),
            headers=tuple((str(k), str(v)) for k, v in header["headers"]),
            body=body,
            stream=bool(header["stream"]),
            request_id=str(header["request_id"]),
        )

    async def complete(self, scope: str, token: object, answer: StoredAnswer) -> None:
        mine, fingerprint = _owned(token)
        key = self._prefix + scope
        header = {
            "fp": fingerprint,
            "status": answer.status,
            "headers": [list(pair) for pair in answer.headers],
            "stream": answer.stream,
            "request_id": answer.request_id,
        }
        done = self._seal(key, header, answer.body)
        await self._run(lambda: self._replace(keys=[key], args=[mine, done, self._ttl_ms]))

    async def release(self, scope: str, token: object) -> None:
        mine, _ = _owned(token)
        key = self._prefix + scope
        await self._run(lambda: self._replace(keys=[key], args=[mine, b"", "0"]))

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

    def _seal(self, key: str, header: dict[str, Any], body: bytes) -> bytes:
        key_id, blob = seal(self._ring, orjson.dumps(header) + b"\n" + body, key.encode())
        return key_id.encode("ascii") + b"." + blob

    def _open(self, key: str, value: bytes) -> tuple[dict[str, Any], bytes]:
        key_id, dot, blob = value.partition(b".")
        if not dot:
            raise ContentUnreadable("not a sealed idempotency slot")
        plain = unseal(self._ring, key_id.decode("ascii", "replace"), blob, key.encode())
        header, _, body = plain.partition(b"\n")
        found = orjson.loads(header)
        if not isinstance(found, dict):
            raise ContentUnreadable("not a sealed idempotency slot")
        return found, body

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
    """The store ``limits.store`` names, or None when ``idempotency.enabled`` is false.

    ConfigError when Redis would hold answers and the keyring has no content key."""
    settings = config.idempotency
    if not settings.enabled:
        return None
    if config.limits.store == "memory":
        return MemoryIdempotencyStore(
            ttl_s=settings.ttl_s,
            in_flight_ttl_s=settings.in_flight_ttl_s,
            max_bytes=settings.max_memory_bytes,
        )
    if not config.redis.url:
        raise ConfigError("limits.store: redis needs redis.url (redis://host:6379/0)")
    if not keyring.has("content"):
        raise ConfigError(
            "idempotency: answers kept in Redis are encrypted, but the keyring has no content "
            "key; add one with `bastion crypto rotate content` and give the file to every "
            "replica, or set idempotency.enabled: false"
        )
    try:
        return RedisIdempotencyStore(
            config.redis.url,
            keyring,
            ttl_s=settings.ttl_s,
            in_flight_ttl_s=settings.in_flight_ttl_s,
            key_prefix=config.redis.key_prefix,
            timeout_s=config.redis.timeout_s,
        )
    except ValueError:
        raise ConfigError(
            "redis.url: not a Redis URL; expected redis://[user:password@]host[:port][/db] "
            "(rediss:// for TLS)"
        ) from None
