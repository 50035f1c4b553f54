"""The audit trail of a gateway process: write-ahead log, shipper, reconciler, checkpoints.

Hot path (RELIABILITY.md A1): ``intent`` appends the call's intent record to the local
write-ahead log before the call goes upstream (one ``write(2)``; with durability
``fsync`` it also waits for the group fsync); ``submit`` appends the completion record
when the call ends. Neither touches the database.

Off the hot path, the shipper moves log entries to the database in batches, chaining
them (per-writer hash chain, contiguous seqs) in the same transaction that records the
log position, then deletes shipped segments and writes a signed checkpoint every
``checkpoint_every`` events or ``checkpoint_interval_s`` seconds. While the database is
down the log is the spool; past ``max_spool_bytes`` ``healthy`` turns false and the
gateway refuses new calls (in-flight calls still finish and are logged).

At start-up, a bounded integrity check (``audit.integrity``, ``audit.verify_at_start``)
looks at the tail of this writer's chain and at the store before anything is appended;
then the reconciler ships what the previous process left in the log, and closes every
intent of this writer without a terminal record as ``unknown_after_crash`` (A2).

Several replicas (RELIABILITY.md A1): each writer holds a lease on its ``audit_writers``
row, renewed by every shipped batch and by a heartbeat every third of ``lease_s``. Each
writer also looks, every half lease, for writers whose lease lapsed with intents still
open, and adopts them: the same closures as the reconciler's, appended to the dead
writer's own chain in one transaction (``storage.AuditEventRepository.adopt``). With
``intents="database"`` a call goes upstream only once its intent is in the database, so
a replica without a persistent volume loses no intent to ``kill -9``.

A writer that comes back after being adopted (a restart on its persistent log, or a
process that stalled past its lease) finds its head moved: it continues its chain from
the stored head, and a completion still in its log for a call already closed is chained
as ``late_completion`` (its real outcome kept as evidence; the call keeps its single
terminal state, A2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson

from bastion.audit.chain import COMPLETION, INTENT, LATE_COMPLETION, Chain, canonical
from bastion.audit.checkpoints import Checkpoint, CheckpointFile, Signer
from bastion.audit.integrity import StartupCheck
from bastion.audit.wal import Durability, Position, WalFailed, WriteAheadLog
from bastion.errors import ServiceUnavailable
from bastion.model import CallRecord, CallStatus
from bastion.model.audit import record_from_json, record_to_json
from bastion.model.chain import ChainedEvent, WriterState
from bastion.storage.audit_events import ChainMoved, Closer

IntentShipping = Literal["local", "database"]

log = logging.getLogger("bastion.audit")

_NUL = b"\\u0000"  # how canonical JSON writes a NUL character

# fields of a completion the intent cannot know yet
_OUTCOME_FIELDS = (
    "status",
    "http_status",
    "error_code",
    "prompt_tokens",
    "completion_tokens",
    "usage_estimated",
    "gateway_ms",
    "upstream_ms",
    "cost_usd",
    "provider",
)


class ChainStore(Protocol):
    """Where shipped events go (``storage.AuditEventRepository``)."""

    async def writer_state(self, writer_id: str) -> WriterState | None: ...

    async def ship(
        self,
        events: Sequence[ChainedEvent],
        records: Sequence[Mapping[str, Any]],
        state: WriterState,
        now: float,
        lease_until: float | None = None,
    ) -> None: ...

    async def open_intents(self, writer_id: str, after_seq: int) -> list[ChainedEvent]: ...

    async def expired_writers(self, now: float, exclude: str) -> list[WriterState]: ...

    async def adopt(self, writer_id: str, owner: str, now: float, close: Closer) -> int: ...

    async def recorded(self, request_ids: Sequence[str]) -> set[str]: ...


def intent_body(record: CallRecord) -> dict[str, Any]:
    """The intent of a call about to go upstream: the record so far, without outcome."""
    body = record_to_json(record)
    for name in _OUTCOME_FIELDS:
        del body[name]
    return body


def storable(body: Any) -> tuple[Any, bytes]:
    """A log entry's body as it is chained and stored, and its canonical JSON.

    A NUL character (a caller can put one in a model name, a claimed user, a tool name
    or a metadata key) becomes U+FFFD: PostgreSQL stores no NUL in text or JSONB, and
    one record the store refuses would hold back every later one. The replacement is
    made before hashing, so the chained body and the stored row stay equal.
    """
    blob = canonical(body)
    if _NUL not in blob:
        return body, blob
    body = _without_nul(body)
    return body, canonical(body)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def closure_of(intent: Mapping[str, Any], closed_by: str = "reconciler") -> dict[str, Any]:
    """The terminal record of an intent whose process died: ``unknown_after_crash``.

    ``closed_by``: ``reconciler`` (the writer's own restart) or ``takeover:<writer>``
    (another replica adopted the writer after its lease lapsed)."""
    values = dict(intent)
    values.update(status=CallStatus.UNKNOWN_AFTER_CRASH.value, http_status=0)
    facts = dict(values.get("request_facts") or {})
    facts["closed_by"] = closed_by
    values["request_facts"] = facts
    return record_to_json(record_from_json(values))


class AuditLog:
    """Durable intent and completion records, shipped to a hash-chained store."""

    def __init__(
        self,
        store: ChainStore,
        wal_dir: Path,
        *,
        durability: Durability = "process",
        max_spool_bytes: int = 1 << 30,
        segment_bytes: int = 8 << 20,
        signer: Signer | None = None,
        checkpoint_file: Path | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 60.0,
        flush_interval_s: float = 0.05,
        max_batch: int = 512,
        lease_s: float = 30.0,
        intents: IntentShipping = "local",
        intent_timeout_s: float = 5.0,
        startup_check: StartupCheck | None = None,
        fsync: Callable[[int], None] = os.fsync,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._wal_dir = wal_dir
        self._durability: Durability = durability
        self._max_spool = max_spool_bytes
        self._segment_bytes = segment_bytes
        self._signer = signer
        self._checkpoints = CheckpointFile(checkpoint_file) if checkpoint_file else None
        self._checkpoint_every = checkpoint_every
        self._checkpoint_interval = checkpoint_interval_s
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._lease = lease_s
        self._intents: IntentShipping = intents
        self._intent_timeout = intent_timeout_s
        self._startup_check = startup_check
        self._waiters: list[tuple[Position, asyncio.Future[None]]] = []
        self._renewed_at = 0.0
        self._scanned_at = 0.0
        self._connected_since = 0.0  # since when the store has answered without a break
        self._check_recorded = False  # replaying a tail, or adopted: skip closed calls
        self._fsync = fsync
        self._clock = clock
        self.wal: WriteAheadLog | None = None
        self._chain: Chain | None = None
        self._shipped = Position(0, 0)
        self._closed_through = 0
        self._checkpointed_seq = 0
        self._checkpointed_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._ship_lock = asyncio.Lock()
        self._resync = False
        self._failing = False
        self._appended = 0
        self._caught_up_at = clock()  # when the shipper last had nothing left to ship
        self.shipped = 0
        self.dropped = 0
        self.closed_after_crash = 0
        self.adopted = 0  # intents of other writers this one closed (takeover)
        self.late_completions = 0

    # --- the hot path ---

    @property
    def healthy(self) -> bool:
        """False when new calls must be refused: the log failed or the spool is full."""
        wal = self.wal
        if wal is None or wal.failed:
            return False
        return wal.unshipped_bytes(self._shipped) < self._max_spool

    @property
    def pending(self) -> int:
        """Entries written to the log and not yet in the database (approximate)."""
        return max(self._appended - self.shipped, 0)

    @property
    def spool_bytes(self) -> int:
        return 0 if self.wal is None else self.wal.unshipped_bytes(self._shipped)

    @property
    def lag_s(self) -> float:
        """How long the oldest entry not yet in the database may have waited (an upper
        bound: the time since the shipper last had nothing left); 0 when all is shipped."""
        if not self.spool_bytes:
            return 0.0
        return max(self._clock() - self._caught_up_at, 0.0)

    @property
    def writer_id(self) -> str | None:
        return None if self.wal is None else self.wal.writer_id

    async def intent(self, record: CallRecord) -> None:
        """Make the call's intent durable before it goes upstream, or raise 503."""
        wal = self.wal
        try:
            if wal is None:
                raise WalFailed("the audit log is not open")
            entry = {"k": INTENT, "r": record.request_id, "t": self._clock()}
            entry["b"] = intent_body(record)
            end = wal.append(entry)
            self._appended += 1
            if self._durability == "fsync":
                await wal.sync()
        except WalFailed:
            raise ServiceUnavailable(
                "The audit log cannot record this call; it was not forwarded.",
                code="audit_unavailable",
            ) from None
        if self._intents == "database":
            await self._shipped_past(end)
        elif self._appended % self._max_batch == 0:
            self._wake.set()

    async def _shipped_past(self, end: Position) -> None:
        """Wait until the shipper committed the log through ``end`` (intents: database)."""
        if self._shipped >= end:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiters.append((end, done))
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(done), self._intent_timeout)
        except TimeoutError:
            raise ServiceUnavailable(
                "The audit store did not record this call in time; it was not forwarded.",
                code="audit_unavailable",
            ) from None

    def _release_waiters(self) -> None:
        waiting = []
        for end, done in self._waiters:
            if end <= self._shipped:
                if not done.done():
                    done.set_result(None)
            else:
                waiting.append((end, done))
        self._waiters = waiting

    def submit(self, record: CallRecord) -> None:
        """Log the call's terminal record (never blocks, never raises)."""
        wal = self.wal
        if wal is None or wal.failed:
            self._drop("the audit log is not writable")
            return
        entry = {"k": COMPLETION, "r": record.request_id, "t": self._clock()}
        try:
            entry["b"] = record_to_json(record)
            wal.append(entry)
        except (WalFailed, TypeError) as exc:  # TypeError: a fact that is not JSON
            self._drop(type(exc).__name__)
            return
        self._appended += 1
        if self._appended % self._max_batch == 0:
            self._wake.set()

    def _drop(self, why: str) -> None:
        if not self.dropped:
            log.error("audit: a call record could not be logged (%s)", why)
        self.dropped += 1

    # --- lifecycle ---

    async def start(self) -> None:
        """Open the log, ship what a previous process left, close its orphans, run."""
        wal = self.wal = WriteAheadLog.open(
            self._wal_dir,
            durability=self._durability,
            segment_bytes=self._segment_bytes,
            fsync=self._fsync,
        )
        state = await self._store.writer_state(wal.writer_id)
        if self._startup_check is not None:
            try:  # before anything is appended on top of a damaged tail
                await self._startup_check.run(state)
            except BaseException:
                wal.close()
                self.wal = None
                raise
        if state is None:
            self._chain = Chain(wal.writer_id)
            self._shipped = wal.start
        else:
            self._chain = Chain(wal.writer_id, state.head_seq, state.head_hash)
            self._shipped = Position(state.wal_segment, state.wal_offset)
            self._closed_through = state.closed_through
            self._checkpointed_seq = state.head_seq
            self._check_recorded = True  # another writer may have adopted this one
        await self.flush()
        await self._reconcile()
        self._check_recorded = False
        self._checkpointed_at = self._scanned_at = self._connected_since = self._clock()
        self._task = asyncio.create_task(self._run(), name="bastion-audit-shipper")

    async def _reconcile(self) -> None:
        assert self.wal is not None and self._chain is not None
        orphans = await self._store.open_intents(self.wal.writer_id, self._closed_through)
        for intent in orphans:
            closure = closure_of(orjson.loads(intent.body))
            self.wal.append(
                {"k": COMPLETION, "r": intent.request_id, "t": self._clock(), "b": closure}
            )
            self._appended += 1
        self.closed_after_crash = len(orphans)
        if orphans:
            log.warning(
                "audit: %d calls of a previous run had no ending; closed as unknown_after_crash",
                len(orphans),
            )
        await self.flush()
        self._closed_through = self._chain.head_seq
        await self._renew()

    async def flush(self) -> None:
        """Ship everything logged so far (start-up, shutdown, tests)."""
        async with self._ship_lock:
            while await self._ship_batch():
                pass
            self._caught_up_at = self._clock()

    async def close(self) -> None:
        """Stop the shipper, ship what is left, write a last checkpoint, close the log."""
        if self._task is not None:  # never cancelled mid-ship: it stops between batches
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        if self.wal is None:
            return
        try:
            await self.flush()
            self._checkpoint(force=True)
        except Exception as exc:
            log.error(
                "audit: %d bytes stay in the log at shutdown (%s); shipped at next start",
                self.spool_bytes,
                type(exc).__name__,
            )
        self.wal.close()
        self.wal = None

    # --- the shipper ---

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if self._stopping:
                return
            if not await self.tick():
                await asyncio.sleep(min(1.0, self._interval * 10))

    async def tick(self) -> bool:
        """One round of the shipper: ship, checkpoint, renew the lease, adopt the dead.

        False when the store failed (the caller backs off)."""
        try:
            await self.flush()
            await self._checkpoint_off_loop()
            if self._failing:
                log.warning("audit: store is writable again")
                self._connected_since = self._clock()
            self._failing = False
            await self._lease_duties()
        except ChainMoved:
            return True  # adopted meanwhile: the next round re-reads the head (warned there)
        except Exception as exc:
            if not self._failing:
                log.error(
                    "audit: store write failed (%s); %d bytes spooled in the log",
                    type(exc).__name__,
                    self.spool_bytes,
                )
            self._failing = True
            return False
        return True

    async def _ship_batch(self) -> bool:
        """Ship one batch; False when there was nothing to ship."""
        wal, chain = self.wal, self._chain
        assert wal is not None and chain is not None
        if self._resync:  # a failed ship may or may not have committed: ask the store
            state = await self._store.writer_state(chain.writer_id)
            if state is not None:
                if state.head_seq > chain.head_seq and state.closed_through > self._closed_through:
                    self._adopted_by_another(state)
                chain.head_seq, chain.head_hash = state.head_seq, state.head_hash
                self._shipped = Position(state.wal_segment, state.wal_offset)
                self._closed_through = state.closed_through
                self._release_waiters()  # the failed batch may have committed after all
            self._resync = False
        entries, end = wal.read(self._shipped, self._max_batch)
        if not entries and end == self._shipped:
            return False
        closed: set[str] = set()
        if self._check_recorded:
            done = [entry["r"] for entry in entries if entry["k"] == COMPLETION]
            closed = await self._store.recorded(done)
        head = (chain.head_seq, chain.head_hash)
        events: list[ChainedEvent] = []
        records: list[dict[str, Any]] = []
        late = 0
        for entry in entries:
            kind, (body, blob) = entry["k"], storable(entry["b"])
            if kind == COMPLETION and entry["r"] in closed:
                kind, late = LATE_COMPLETION, late + 1
            elif kind == COMPLETION:
                records.append(body)
            events.append(chain.link(kind, entry["r"], entry["t"], blob))
        now = self._clock()
        try:
            await self._store.ship(events, records, self._state(end), now, now + self._lease)
        except BaseException:
            chain.head_seq, chain.head_hash = head
            self._resync = True
            raise
        self._shipped, self._renewed_at = end, now
        self.shipped += len(events)
        if late:
            self.late_completions += late
            log.warning(
                "audit: %d calls ended after another replica closed them as"
                " unknown_after_crash; their outcome is chained as late_completion",
                late,
            )
        wal.release(end)
        self._release_waiters()
        return True

    def _adopted_by_another(self, state: WriterState) -> None:
        log.warning(
            "audit: writer %s was adopted by another replica while its lease had lapsed;"
            " continuing its chain from seq %d",
            state.writer_id,
            state.head_seq,
        )
        self._check_recorded = True

    # --- the lease and takeover ---

    async def _renew(self) -> None:
        """Renew this writer's lease (an empty batch: the head and position unchanged)."""
        async with self._ship_lock:
            now = self._clock()
            try:
                await self._store.ship([], [], self._state(self._shipped), now, now + self._lease)
            except ChainMoved:
                self._resync = True  # adopted: the next batch goes on from the stored head
                return
            self._renewed_at = now

    async def _lease_duties(self) -> None:
        now = self._clock()
        if now - self._renewed_at >= self._lease / 3:
            await self._renew()
        # after an outage of the store every writer's lease may have lapsed: wait one
        # lease, so the live ones renew, before taking any over
        connected = now - self._connected_since >= self._lease
        if connected and now - self._scanned_at >= self._lease / 2:
            self._scanned_at = now
            await self.adopt_expired()

    async def adopt_expired(self) -> int:
        """Close the open intents of writers whose lease lapsed: how many were closed."""
        wal = self.wal
        assert wal is not None
        owner = wal.writer_id
        closed = 0
        now = self._clock()
        for writer in await self._store.expired_writers(now, exclude=owner):

            def close(
                state: WriterState, orphans: Sequence[ChainedEvent]
            ) -> tuple[list[ChainedEvent], list[Any]]:
                chain = Chain(state.writer_id, state.head_seq, state.head_hash)
                events: list[ChainedEvent] = []
                records: list[Any] = []
                for intent in orphans:
                    closure = closure_of(orjson.loads(intent.body), f"takeover:{owner}")
                    events.append(
                        chain.link(COMPLETION, intent.request_id, now, canonical(closure))
                    )
                    records.append(closure)
                return events, records

            count = await self._store.adopt(writer.writer_id, owner, now, close)
            if count:
                log.warning(
                    "audit: writer %s stopped renewing its lease; %d of its calls closed as"
                    " unknown_after_crash",
                    writer.writer_id,
                    count,
                )
            closed += count
        self.adopted += closed
        return closed

    def _state(self, position: Position) -> WriterState:
        assert self._chain is not None
        return WriterState(
            self._chain.writer_id,
            self._chain.head_seq,
            self._chain.head_hash,
            position.segment,
            position.offset,
            self._closed_through,
        )

    def _checkpoint(self, *, force: bool = False) -> None:
        checkpoint = self._due_checkpoint(force=force)
        if checkpoint is not None and self._checkpoints is not None:
            self._checkpoints.append(checkpoint)
            self._checkpointed_seq, self._checkpointed_at = checkpoint.seq, checkpoint.at

    async def _checkpoint_off_loop(self) -> None:
        """The shipper's checkpoint: its append fsyncs, so it runs in a thread (a disk
        flush on the event loop would stall every call in flight)."""
        checkpoint = self._due_checkpoint()
        if checkpoint is not None and self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.append, checkpoint)
            self._checkpointed_seq, self._checkpointed_at = checkpoint.seq, checkpoint.at

    def _due_checkpoint(self, *, force: bool = False) -> Checkpoint | None:
        """The signed checkpoint of the chain's head, when one is due."""
        chain = self._chain
        if self._signer is None or self._checkpoints is None or chain is None:
            return None
        if chain.head_seq <= self._checkpointed_seq:
            return None
        now = self._clock()
        due = (
            force
            or chain.head_seq - self._checkpointed_seq >= self._checkpoint_every
            or now - self._checkpointed_at >= self._checkpoint_interval
        )
        if not due:
            return None
        return self._signer.sign(chain.writer_id, chain.head_seq, chain.head_hash, now)
