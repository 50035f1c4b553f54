"""Gateway-key verification with a short-lived cache: the per-request identity check.

Hot path for a recently seen key: a format check, one dict lookup, one SHA-256 and one
``hmac.compare_digest`` — a few microseconds, no I/O. Cache entries are trusted for
``cache_ttl_s`` after they were read from the store (``keys`` changes drop them sooner
through :meth:`KeyVerifier.invalidate`); an entry past half its TTL is refreshed in the
background, so busy keys never wait for the store. Concurrent misses for one key id
share one lookup. Unknown ids are cached too (negatively), and every failure — missing,
malformed, unknown, wrong secret, revoked, expired — runs the same hash-and-compare
and raises the same error.

Store down or slower than ``lookup_timeout_s`` (RELIABILITY.md): keys read within the
last ``cache_ttl_s`` keep working; anything else gets 503 ``auth_unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bastion.errors import AuthenticationFailed, ServiceUnavailable, StorageError
from bastion.identity.keys import parse_key, secret_matches
from bastion.model import AuthenticatedKey, Principal
from bastion.storage.keys import KeyStatus, StoredKey

logger = logging.getLogger(__name__)

INVALID_KEY_MESSAGE = (
    "Incorrect API key provided. Use a key issued by your Bastion administrator "
    "(bastion keys create); keys look like bst_<id>_<secret>."
)
STORE_DOWN_MESSAGE = "The API key store is unavailable; retry shortly."
# Hashed for missing or malformed keys so they cost what a well-formed miss costs.
_NO_SECRET = "0" * 32


class KeyLookup(Protocol):
    """What the verifier needs from the store (``KeyRepository`` provides it)."""

    async def get(self, key_id: str) -> StoredKey | None:
        """The stored key with this id, or None; StorageError when the store fails."""
        ...


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the store said about one key id, and when (monotonic seconds)."""

    fetched_at: float
    secret_hash: str | None  # None: no such key id
    key: AuthenticatedKey | None  # None: unknown, revoked, expired or replaced
    usable_until: float  # epoch seconds after which the key stops authenticating


class KeyVerifier:
    """Turns a presented gateway key into an ``AuthenticatedKey`` or a 401/503 error."""

    def __init__(
        self,
        repo: KeyLookup,
        *,
        cache_ttl_s: float = 5.0,
        lookup_timeout_s: float = 2.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._ttl = cache_ttl_s
        self._refresh_after = cache_ttl_s / 2
        self._lookup_timeout_s = lookup_timeout_s
        self._max_entries = max_entries
        self._clock = clock
        self._wall_clock = wall_clock
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[_Entry]] = {}
        self._generation = 0
        self.store_reachable = True

    async def verify(self, presented: str | None) -> AuthenticatedKey:
        """The key's principal and permissions; AuthenticationFailed (401) for any bad key,
        ServiceUnavailable ``auth_unavailable`` (503) when the store is needed but down."""
        parsed = parse_key(presented)
        if parsed is None:
            secret_matches(_NO_SECRET, None)
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        key_id, secret = parsed
        entry = self._cache.get(key_id)
        age = math.inf if entry is None else self._clock() - entry.fetched_at
        if entry is None or age >= self._ttl:
            entry = await self._lookup(key_id)
        elif age >= self._refresh_after:
            self._start_load(key_id)
        matched = secret_matches(secret, entry.secret_hash)
        if not matched or entry.key is None or self._wall_clock() >= entry.usable_until:
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        return entry.key

    def invalidate(self, key_id: str | None = None) -> None:
        """Forget what is cached about ``key_id`` (every key when None)."""
        self._generation += 1
        if key_id is None:
            self._cache.clear()
            self._inflight.clear()
        else:
            self._cache.pop(key_id, None)
            self._inflight.pop(key_id, None)

    @property
    def cached_keys(self) -> int:
        """How many keys could authenticate right now without the store."""
        now = self._clock()
        return sum(
            1 for e in self._cache.values() if e.key is not None and now - e.fetched_at < self._ttl
        )

    async def close(self) -> None:
        """Let lookups under way finish (for at most the lookup timeout), then cancel the
        rest: a lookup cancelled inside its database transaction leaves the connection
        pool logging a failed reset, at every shutdown that follows a call."""
        tasks = list(self._inflight.values())
        self._inflight.clear()
        if tasks:
            await asyncio.wait(tasks, timeout=self._lookup_timeout_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lookup(self, key_id: str) -> _Entry:
        task = self._start_load(key_id)
        try:
            # shield: a caller that goes away (or times out) must not cancel the lookup
            # others await; the timeout keeps a hanging store from holding requests.
            async with asyncio.timeout(self._lookup_timeout_s):
                return await asyncio.shield(task)
        except (StorageError, TimeoutError) as exc:
            raise ServiceUnavailable(STORE_DOWN_MESSAGE, code="auth_unavailable") from exc

    def _start_load(self, key_id: str) -> asyncio.Task[_Entry]:
        task = self._inflight.get(key_id)
        if task is None:
            task = asyncio.ensure_future(self._load(key_id, self._generation))
            self._inflight[key_id] = task
            task.add_done_callback(lambda done: self._load_finished(key_id, done))
        return task

    def _load_finished(self, key_id: str, task: asyncio.Task[_Entry]) -> None:
        if self._inflight.get(key_id) is task:
            del self._inflight[key_id]
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here so a background refresh nobody awaits is not reported
            # as "never retrieved"; the class name only (messages may hold row data).
            logger.warning("key store lookup failed: %s", type(task.exception()).__name__)

    async def _load(self, key_id: str, generation: int) -> _Entry:
        try:
            stored = await self._repo.get(key_id)
        except StorageError:
            self.store_reachable = False
            raise
        self.store_reachable = True
        entry = self._entry_for(stored)
        if generation == self._generation:  # not invalidated while we were reading
            self._cache.pop(key_id, None)
            if len(self._cache) >= self._max_entries:
                del self._cache[next(iter(self._cache))]
            self._cache[key_id] = entry
        return entry

    def _entry_for(self, stored: StoredKey | None) -> _Entry:
        fetched_at = self._clock()
        if stored is None:
            return _Entry(fetched_at, None, None, -math.inf)
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        if stored.status(now) not in (KeyStatus.ACTIVE, KeyStatus.GRACE):
            return _Entry(fetched_at, stored.secret_hash, None, -math.inf)
        deadlines = [stored.expires_at, stored.revoked_at]
        if stored.replaced_by is not None:
            deadlines.append(stored.grace_until)
        usable_until = min((d.timestamp() for d in deadlines if d is not None), default=math.inf)
        return _Entry(fetched_at, stored.secret_hash, authenticated_key(stored), usable_until)


def authenticated_key(stored: StoredKey) -> AuthenticatedKey:
    """The principal and permissions a stored key grants."""
    principal = Principal(
        key_id=stored.key_id,
        name=stored.name,
        user=stored.user,
        app=stored.app,
        team=stored.team,
        environment=stored.environment,
        roles=stored.roles,
        owner=stored.owner,
    )
    return AuthenticatedKey(
        principal=principal, models=stored.models, trust_end_user=stored.trust_end_user
    )
