"""The Redis counter store: the memory store's counters, shared by every worker and replica.

Each ``take``, ``settle`` and ``restore`` is one Lua script (``redis_scripts``, one
EVALSHA), so every scope of a call is checked and taken atomically, with the Redis
server's clock rather than the callers'. Every counter key carries the epoch, the id of
the current set of counters: when Redis lost its data (FLUSHALL, a restart without
persistence) the epoch marker is gone, and the first process to notice rebuilds the
counters from the spend ledger under a new epoch before anything is admitted again; the
others adopt that epoch. A ticket of an older epoch settles by adding what it used.
``restore`` only creates counters that do not exist, so a process that starts, or
reloads its config, with a budget the running counters lack seeds that budget's
counters from the ledger and leaves the others alone.

Redis errors and timeouts (``redis.timeout_s`` per command; nothing is retried, since a
take that timed out may have been applied) open a breaker: until a background ``PING``
(every half second) answers, calls do not wait for Redis. Meanwhile ``take`` checks
this process's share of each limit in memory, budgets refused (``degrade``, the default:
``degrade.LocalLimits``), refuses with ``StorageError`` (``closed``) or passes the call
unlimited, counted in ``fail_open_passes`` (``open``). For the local share, every
process registers itself in Redis every few seconds (``MEMBERS``) and remembers how
many were registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bastion.background import stop
from bastion.errors import StorageError
from bastion.limits.degrade import LocalLimits, LocalTicket
from bastion.limits.redis_scripts import MEMBERS, RESTORE, SETTLE, TAKE
from bastion.limits.store import (
    FallbackTicket,
    Granted,
    Hold,
    HoldKind,
    Refused,
    Restored,
    Settlement,
)

log = logging.getLogger("bastion.limits")

_KIND = {HoldKind.WINDOW: "w", HoldKind.LEASE: "l", HoldKind.TOTAL: "t"}
_ATTEMPTS = 3  # a script answering "another epoch" is retried after adopting it
_PROBE_EVERY_S = 0.5
_BEAT_EVERY_S = 5.0  # each process re-registers itself this often ...
_MEMBER_TTL_S = 15.0  # ... and counts as gone this long after its last registration
_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(slots=True)
class _Ticket:
    """What one take holds: its epoch, server time, entry ids, holds and amounts."""

    epoch: bytes
    at_us: int
    first_id: int
    holds: tuple[Hold, ...]
    amounts: list[int]


class _Passed(FallbackTicket):
    mode: ClassVar[str] = "unlimited"


_PASSED = _Passed()  # the ticket of a call let through while Redis was unreachable


def _us(seconds: float) -> str:
    return str(math.ceil(seconds * 1_000_000))


def unretried_client(url: str, *, timeout_s: float, max_connections: int) -> redis.Redis:
    """A Redis client that never retries (a take retried after a timeout could be taken
    twice) and waits up to ``timeout_s`` for one of ``max_connections``, never opening
    more: the counter and idempotency stores share it."""
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )
    return redis.Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))


class RedisCounterStore:
    """Counters in Redis (``limits.store: redis``), shared by every process using it.

    ``rebuild_from`` is the ledger rebuild run when the counters are found gone; it
    calls ``restore``. ``take`` and ``settle`` ignore the callers' ``now``: windows,
    leases and expiries follow the server's clock.
    """

    name: ClassVar[str] = "redis"

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "bastion:",
        timeout_s: float = 1.0,
        fail_open: bool = False,
        max_connections: int = 64,
        on_fail_open: Callable[[], None] | None = None,
        local: LocalLimits | None = None,
    ) -> None:
        self._redis = unretried_client(url, timeout_s=timeout_s, max_connections=max_connections)
        self._prefix = f"{key_prefix}lim:"
        self._marker = f"{self._prefix}epoch"
        self._seq = f"{self._prefix}seq"
        self._deadline_s = timeout_s
        self._fail_open = fail_open
        self._on_fail_open = on_fail_open
        # EVALSHA, loading the script once when Redis answers NOSCRIPT (after a restart)
        self._take_script = self._redis.register_script(TAKE)
        self._settle_script = self._redis.register_script(SETTLE)
        self._restore_script = self._redis.register_script(RESTORE)
        self._epoch: bytes | None = None
        self._seed_pending = False  # a restore failed: seed before the next call
        self._recovery = asyncio.Lock()
        self._down_since: float | None = None
        self._probe: asyncio.Task[None] | None = None
        self._passes_before = 0
        self.rebuild_from: Callable[[], Awaitable[object]] | None = None
        self.fail_open_passes = 0
        # limits.on_store_down: degrade: local shares, N from the registered processes
        self.local = local
        self._members_script = self._redis.register_script(MEMBERS)
        self._members = f"{self._prefix}members"
        self._member = secrets.token_hex(8)
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def reachable(self) -> bool:
        """False from a failure until Redis answers a ``PING`` again."""
        return self._down_since is None

    async def take(self, holds: Sequence[Hold], now: float) -> Granted | Refused:
        if self._down_since is not None:
            return self._unreachable(holds, now, None)
        if self._heartbeat is None and self.local is not None:
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._register(), name="bastion-limits-redis-members"
            )
        args: list[str] = []
        for hold in holds:
            args += (_KIND[hold.kind], str(hold.limit), str(hold.amount), _us(hold.span_s))
        try:
            for _ in range(_ATTEMPTS):
                epoch = self._epoch or await self._recover(None)
                keys = [self._marker, self._seq]
                for hold in holds:
                    keys += self._keys(epoch, hold.kind, hold.key)
                reply = await self._run(self._take_script, keys, [epoch.decode(), " ".join(args)])
                if reply[0] != 0:
                    break
                await self._recover(epoch)
            else:
                raise StorageError("the Redis counters changed epoch during one call")
        except _FAILURES as exc:
            return self._unreachable(holds, now, exc)
        except StorageError as exc:  # the ledger could not be read for a rebuild
            return self._unreachable(holds, now, exc, trip=False)
        self._reached()
        if reply[0] < 0:
            _, index, used, retry_us = reply
            return Refused(int(index), int(used), math.inf if retry_us < 0 else retry_us / 1e6)
        values = reply[3:]
        ticket = _Ticket(
            epoch, int(reply[1]), int(reply[2]), tuple(holds), [h.amount for h in holds]
        )
        return Granted(
            ticket,
            tuple(hold.limit - int(v) for hold, v in zip(holds, values[0::2], strict=True)),
            tuple(max(v, 0) / 1e6 for v in values[1::2]),
        )

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        tickets: list[tuple[_Ticket, list[int]]] = []
        args: list[str] = []
        for ticket, amounts in settlements:
            if ticket is _PASSED:
                continue
            if type(ticket) is LocalTicket:
                assert self.local is not None
                self.local.settle(ticket, amounts)
                continue
            assert isinstance(ticket, _Ticket)
            settled = [
                held if amount is None else amount
                for held, amount in zip(ticket.amounts, amounts, strict=True)
            ]
            tickets.append((ticket, settled))
            epoch, at = ticket.epoch.decode(), str(ticket.at_us)
            for index, (hold, held, amount) in enumerate(
                zip(ticket.holds, ticket.amounts, settled, strict=True)
            ):
                args += (
                    _KIND[hold.kind],
                    str(ticket.first_id + index + 1),
                    str(held),
                    str(amount),
                    _us(hold.span_s),
                    epoch,
                    at,
                )
        if not tickets:
            return
        if self._down_since is not None:
            raise StorageError("the limit counters (Redis) cannot be reached")
        try:
            for _ in range(_ATTEMPTS):
                epoch_now = self._epoch or await self._recover(None)
                keys = [self._marker]
                for ticket, _settled in tickets:
                    for hold in ticket.holds:
                        keys += self._keys(epoch_now, hold.kind, hold.key)
                reply = await self._run(
                    self._settle_script, keys, [epoch_now.decode(), " ".join(args)]
                )
                if reply[0] != 0:
                    break
                await self._recover(epoch_now)
            else:
                raise StorageError("the Redis counters changed epoch during one call")
        except _FAILURES as exc:
            self._trip(exc)
            raise StorageError("the limit counters (Redis) cannot be reached") from exc
        self._reached()
        for ticket, settled in tickets:
            ticket.epoch = epoch_now
            ticket.amounts = settled

    async def restore(self, entries: Sequence[Restored]) -> int:
        """Seed the counters Redis does not hold with the ledger's spend: all of them
        under a new epoch when it holds none, else only those missing from the current
        epoch (a budget added to the config); those held stay as they are. Answers how
        many were seeded; 0 when Redis cannot be reached (the first call that reaches
        it rebuilds then, if its counters are gone)."""
        try:
            return await self._restore(entries)
        except _FAILURES as exc:
            self._trip(exc)
            self._epoch = None  # the next call that reaches Redis seeds what is missing
            self._seed_pending = True
            return 0

    async def close(self) -> None:
        for task in (self._probe, self._heartbeat):
            await stop(task)
        if self._heartbeat is not None and self._down_since is None:
            with contextlib.suppress(*_FAILURES):  # leave the count at once
                await self._run_command(lambda: self._redis.zrem(self._members, self._member))
        await self._redis.aclose(close_connection_pool=True)

    async def used(self, key: str, kind: HoldKind) -> int:
        """What a counter holds (windows: as of their last take; 0 when unknown)."""
        epoch = self._epoch or await self._recover(None)
        main, aux = self._keys(epoch, kind, key)
        if kind is HoldKind.LEASE:
            seconds, micros = await self._redis.time()
            now_us = int(seconds) * 1_000_000 + int(micros)
            return int(await self._redis.zcount(main, f"({now_us}", "+inf"))
        found = await self._redis.get(aux if kind is HoldKind.WINDOW else main)
        return int(found or 0)

    async def _restore(self, entries: Sequence[Restored]) -> int:
        fields: list[str] = []
        for entry in entries:
            fields += (_KIND[entry.kind], str(entry.amount), _us(entry.at), _us(entry.span_s))
        current = await self._run_command(lambda: self._redis.get(self._marker))
        for _ in range(_ATTEMPTS):
            new = current is None
            epoch = secrets.token_hex(8).encode() if new else bytes(current)
            keys = [self._marker, self._seq]
            for entry in entries:
                keys += self._keys(epoch, entry.kind, entry.key)
            args = [epoch.decode(), "1" if new else "0", *fields]
            reply = await self._run(self._restore_script, keys, args)
            if reply[0]:
                self._epoch = epoch
                self._reached()
                return int(reply[2])
            current = reply[1] or None  # another process made (or Redis lost) the epoch
        raise StorageError("the Redis counters changed epoch during a restore")

    async def _recover(self, stale: bytes | None) -> bytes:
        """Adopt the current epoch, or rebuild the counters from the ledger when Redis
        has none (one task per process at a time; one process wins the restore)."""
        async with self._recovery:
            if self._epoch is not None and self._epoch != stale:
                return self._epoch  # another task recovered meanwhile
            current = await self._run_command(lambda: self._redis.get(self._marker))
            if current is not None and not self._seed_pending:
                self._epoch = bytes(current)
                return self._epoch
            if current is None:
                log.warning(
                    "limits: Redis holds no counters (first start, flush or restart); "
                    "rebuilding them from the spend ledger before admitting calls"
                )
            if self.rebuild_from is not None:
                await self.rebuild_from()  # calls restore()
            else:
                await self._restore(())
            self._seed_pending = self._epoch is None
            if self._epoch is None or self._epoch == stale:
                raise StorageError("the Redis counters could not be rebuilt")
            return self._epoch

    async def _run(self, script: AsyncScript, keys: list[str], args: list[str]) -> list[Any]:
        reply: list[Any] = await self._run_command(lambda: script(keys=keys, args=args))
        return reply

    async def _run_command(self, command: Callable[[], Awaitable[Any]]) -> Any:
        async with asyncio.timeout(self._deadline_s):
            return await command()

    def _keys(self, epoch: bytes, kind: HoldKind, key: str) -> tuple[str, str]:
        base = f"{self._prefix}{epoch.decode()}:"
        if kind is HoldKind.WINDOW:
            return f"{base}w:{key}", f"{base}s:{key}"
        main = f"{base}{_KIND[kind]}:{key}"
        return main, main

    def _unreachable(
        self, holds: Sequence[Hold], now: float, exc: BaseException | None, *, trip: bool = True
    ) -> Granted | Refused:
        if exc is not None and trip:
            self._trip(exc)
        if self.local is not None:
            return self.local.take(holds, now)  # StorageError for a budget
        if not self._fail_open:
            raise StorageError("the limit counters (Redis) cannot be reached") from exc
        self.fail_open_passes += 1
        if self._on_fail_open is not None:
            self._on_fail_open()
        return Granted(_PASSED, tuple(h.limit for h in holds), tuple(0.0 for _ in holds))

    def _trip(self, exc: BaseException) -> None:
        """Open the breaker: calls stop waiting for Redis until a probe reaches it."""
        if self._down_since is not None:
            return
        self._down_since = time.monotonic()
        self._passes_before = self.fail_open_passes
        if self.local is not None:
            self.local.reset()  # start the outage from empty local counters
            self._passes_before = self.local.decisions
            doing = (
                f"checking rate and concurrency limits in this process at limit ÷ "
                f"{self.local.processes} and refusing budgeted calls with 503 "
                "limits_unavailable (limits.on_store_down: degrade)"
            )
        elif self._fail_open:
            doing = "letting calls through without limits (limits.on_store_down: open)"
        else:
            doing = "refusing calls with 503 limits_unavailable"
        log.warning(
            "limits: Redis unreachable (%s); %s until it answers again",
            type(exc).__name__,
            doing,
        )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_until_reached(), name="bastion-limits-redis-probe"
            )

    async def _probe_until_reached(self) -> None:
        while self._down_since is not None:
            await asyncio.sleep(_PROBE_EVERY_S)
            try:
                # idle connections from before the outage may be dead (a partition)
                await self._redis.connection_pool.disconnect(inuse_connections=False)
                await self._run_command(self._redis.ping)
            except _FAILURES:
                continue
            self._reached()

    async def _register(self) -> None:
        """Register this process every few seconds; remember how many are registered."""
        assert self.local is not None
        while True:
            if self._down_since is None:
                try:
                    count = await self._run_command(
                        lambda: self._members_script(
                            keys=[self._members], args=[self._member, _us(_MEMBER_TTL_S)]
                        )
                    )
                    self.local.seen = int(count)
                except _FAILURES:
                    pass  # calls trip the breaker; the last count seen stays
            await asyncio.sleep(_BEAT_EVERY_S)

    def _reached(self) -> None:
        if self._down_since is not None:
            if self.local is not None:
                self.local.reset()  # Redis holds the truth again
                log.warning(
                    "limits: Redis reachable again after %.1f s; %d decisions were taken "
                    "on local limits",
                    time.monotonic() - self._down_since,
                    self.local.decisions - self._passes_before,
                )
            else:
                log.warning(
                    "limits: Redis reachable again after %.1f s; %d calls passed without limits",
                    time.monotonic() - self._down_since,
                    self.fail_open_passes - self._passes_before,
                )
            self._down_since = None
