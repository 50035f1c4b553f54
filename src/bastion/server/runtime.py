"""Everything one gateway process runs, built from the config; opened and closed by lifespan."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from bastion.audit import location as audit_location
from bastion.audit.checkpoints import Signer
from bastion.audit.exporters.metrics import prometheus_meters
from bastion.audit.exporters.runner import build_exporters
from bastion.audit.integrity import build_startup_check
from bastion.audit.log import AuditLog
from bastion.config.schema import BastionConfig
from bastion.errors import BastionError, ConfigError, StorageError
from bastion.identity.admin import LOCAL_ADMIN_SUBJECT, AdminAuthenticator, AdminIdentity, AdminRole
from bastion.identity.changes import ChangeNotifier, PollingChangeNotifier
from bastion.identity.changes_redis import RedisChangeNotifier, RedisChangePublisher
from bastion.identity.verifier import KeyVerifier
from bastion.limits.base import Limiter, Unlimited
from bastion.limits.budget_status import budget_statuses
from bastion.limits.build import (
    LimiterSettings,
    build_limiter,
    known_prices,
    limiter_settings,
    reconfigure_limiter,
)
from bastion.limits.idempotency import build_idempotency_store
from bastion.limits.ledger import LedgerWriter, rebuild
from bastion.limits.limiter import ScopedLimiter
from bastion.pipeline.active_policy import ActivePolicy
from bastion.pipeline.admin_trail import AdminTrail
from bastion.pipeline.content import build_content_keeper
from bastion.pipeline.exception_book import ExceptionBook
from bastion.pipeline.gateway import Gateway
from bastion.pipeline.guardrails import build_guardrails
from bastion.pipeline.idempotency import Idempotency
from bastion.pipeline.parts import GatewayParts
from bastion.pipeline.tracing import build_tracer
from bastion.policy.base import Decider, PolicyUnavailable
from bastion.providers import Router
from bastion.server.asgi import Receive, Send
from bastion.server.heap import settle_heap
from bastion.server.reload import ConfigWatcher, load_candidate, sections_needing_restart
from bastion.storage.admin_tokens import AdminTokenRepository
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.audit_exports import AuditExportRepository
from bastion.storage.call_records import CallRecordRepository
from bastion.storage.changes import ChangeFeed
from bastion.storage.class_sets import ClassSetRepository
from bastion.storage.database import Database
from bastion.storage.exceptions import ExceptionRepository
from bastion.storage.keys import KeyRepository
from bastion.storage.policies import PolicyRepository
from bastion.storage.spend import SpendLedgerRepository
from bastion.wire.request import WireOptions

log = logging.getLogger("bastion.server")
_BUDGETS_READ_EVERY_S = 5.0  # /metrics reads the ledger's budget totals at most this often


def wire_options(config: BastionConfig) -> WireOptions:
    """The wire layer's settings from the config."""
    return WireOptions(
        retrieved_tags=tuple(config.wire.retrieved_tags),
        extra_passthrough=frozenset(config.wire.passthrough_fields),
    )


def build_audit_log(config: BastionConfig, database: Database, signer: Signer) -> AuditLog:
    """The process's audit trail (write-ahead log, shipper, checkpoints) from the config."""
    audit = config.audit
    return AuditLog(
        AuditEventRepository(database),
        audit_location.wal_dir(config),
        durability=audit.durability,
        max_spool_bytes=audit.max_spool_bytes,
        segment_bytes=audit.segment_bytes,
        signer=signer,
        checkpoint_file=audit_location.checkpoint_file(config),
        checkpoint_every=audit.checkpoint_every,
        checkpoint_interval_s=audit.checkpoint_interval_s,
        flush_interval_s=audit.flush_interval_s,
        max_batch=audit.max_batch,
        lease_s=audit.writer_lease_s,
        intents=audit.intents,
        startup_check=build_startup_check(config, AuditEventRepository(database)),
    )


class Runtime:
    """The stores, caches, pools and background tasks of one process."""

    def __init__(
        self,
        config: BastionConfig,
        *,
        config_path: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        watch: bool = False,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self._overrides = dict(overrides or {})
        self._watch = watch
        self._watcher = ConfigWatcher(config_path, self.reload) if watch and config_path else None
        self._policy_watcher: ConfigWatcher | None = None
        self._retired: dict[asyncio.Task[None], Router] = {}
        self.database = Database.from_url(config.storage.url)
        self.keys = KeyRepository(self.database)
        self.verifier = KeyVerifier(self.keys)
        self.admin_auth = AdminAuthenticator(AdminTokenRepository(self.database))
        self.records = CallRecordRepository(self.database)
        poller = PollingChangeNotifier(
            ChangeFeed(self.database),
            config.storage.poll_interval_s,
            on_poll=self._key_store_polled,
        )
        self.changes: ChangeNotifier = poller
        # change push: with Redis, committed changes nudge every replica to poll at once
        self._change_push: RedisChangePublisher | None = None
        self._push_failures: Counter | None = None
        redis_url, redis_config = config.redis.url, config.redis
        if redis_url is not None:
            self.changes = RedisChangeNotifier(
                poller,
                redis_url,
                key_prefix=redis_config.key_prefix,
                timeout_s=redis_config.timeout_s,
            )
            self._change_push = RedisChangePublisher(
                redis_url,
                key_prefix=redis_config.key_prefix,
                timeout_s=redis_config.timeout_s,
                on_failure=self._change_push_failed,
            )
            self.database.after_changes_commit(self._change_push.publish)
        self.router = Router(config)
        # the decider comes from the policy store once started (ActivePolicy)
        self.guardrails = build_guardrails(config, decider=PolicyUnavailable())
        self.exception_book = ExceptionBook(ExceptionRepository(self.database))
        self.class_sets = ClassSetRepository(self.database)
        signer = Signer(self.guardrails.keyring.active("signing"))
        self.audit = build_audit_log(config, self.database, signer)
        self.content = build_content_keeper(config, self.database, self.guardrails.keyring, signer)
        # --- limits (issue 6): the limiter from `limits`, its spend ledger ---
        self.spend = SpendLedgerRepository(self.database)
        built = build_limiter(
            config,
            self.spend,
            on_soft_limit=self._soft_limit_reached,
            on_fail_open=self._limits_fail_open,
            on_degraded=self._limits_degraded,
        )
        self.limiter: ScopedLimiter | None = built[0] if built else None
        self._counted_rules = list(self.limiter.rules) if self.limiter is not None else []
        self.ledger: LedgerWriter | None = built[1] if built else None
        limiter: Limiter = (
            self.limiter if self.limiter is not None else Unlimited(known_prices(config))
        )
        self._soft_alerts: Counter | None = None
        self._budgets_read_at = -_BUDGETS_READ_EVERY_S
        self._fail_open_passes: Counter | None = None
        self._degraded_decisions: Counter | None = None
        # idempotent retries: answers kept where the counters live (limits.store)
        idempotency = Idempotency(
            build_idempotency_store(config, self.guardrails.keyring),
            max_answer_bytes=config.limits.idempotency_max_answer_bytes,
            fail_open=config.limits.on_store_down == "open",
        )
        # --- end limits ---
        self.gateway = Gateway(
            GatewayParts(
                verifier=self.verifier,
                router=self.router,
                audit=self.audit,
                models=config.models,
                wire=wire_options(config),
                inspector=self.guardrails.inspector,
                decider=self.guardrails.decider,
                exceptions=self.exception_book,
                transformer=self.guardrails.transformer,
                keyring=self.guardrails.keyring,
                class_set=self.guardrails.class_set_digest,
                content=self.content,
                limiter=limiter,
                idempotency=idempotency,
                tracer=build_tracer(config.tracing),
            )
        )
        self._soft_alerts = Counter(  # limits: soft thresholds reached (once per period)
            "bastion_limit_soft_alerts_total",
            "Budgets that reached their soft threshold, by rule and limit.",
            ["rule", "limit"],
            registry=self.gateway.parts.metrics.registry,
        )
        self._fail_open_passes = Counter(  # limits: calls let through with Redis down
            "bastion_limits_fail_open_total",
            "Calls admitted without limits because the counter store was unreachable "
            "(limits.on_store_down: open).",
            registry=self.gateway.parts.metrics.registry,
        )
        self._degraded_decisions = Counter(  # limits: decisions on local limits, Redis down
            "bastion_limits_degraded_total",
            "Limit decisions taken in this process while the counter store was unreachable "
            "(limits.on_store_down: degrade), by outcome: admitted, refused, budget_closed.",
            ["outcome"],
            registry=self.gateway.parts.metrics.registry,
        )
        self._push_failures = Counter(  # change push: nudges Redis did not take
            "bastion_change_push_failures_total",
            "Committed changes whose nudge to other replicas could not be published to "
            "Redis (they see the change at their next poll).",
            registry=self.gateway.parts.metrics.registry,
        )
        self.exporters = build_exporters(  # audit exporters: one background task each
            config.audit.exporters,
            AuditExportRepository(self.database),
            prometheus_meters(self.gateway.parts.metrics.registry),
        )
        self.policy = ActivePolicy(
            PolicyRepository(self.database),
            config,
            self._install_decider,
            self.gateway.parts.metrics.policy_loads,
        )
        self._started = False

    async def start(self) -> None:
        """Migrate the store, start pools and background tasks."""
        await self.database.migrate()
        await self.class_sets.save(self.guardrails.class_set)  # records name it; replay reads it
        await self.router.start()
        self.changes.subscribe("keys", self._keys_changed)
        self.exception_book.subscribe_to(self.changes)  # before start: no change missed
        self.policy.subscribe_to(self.changes)
        await self.changes.start()
        await self.policy.start(watch=self._watch)
        await self.exception_book.start()
        await self.audit.start()  # ships what a killed process left, closes its orphans
        await self.content.start()  # content retention: writer and purge job
        for exporter in self.exporters:  # deliver from the durable cursors on
            exporter.start()
        if self.limiter is not None:  # limits: counters of the current periods from the ledger
            restored = await rebuild(self.limiter, self.spend, time.time())
            log.info("limits: %d counters restored from the spend ledger", restored)
        if self.ledger is not None:
            self.ledger.start()
        if self._watcher is not None:
            self._watcher.start()
        if self._watch:
            await self._watch_policy_file()
        # the detectors' tables (gazetteers, patterns) live as long as the process: out of
        # the collector's generations; serving thresholds keep collections off the tail
        settle_heap()
        self._started = True

    async def close(self) -> None:
        """Drain what is queued and close everything opened by ``start``."""
        if self._watcher is not None:
            await self._watcher.close()
        if self._policy_watcher is not None:
            await self._policy_watcher.close()
        for task, router in list(self._retired.items()):
            task.cancel()
            await router.close()
        await self.changes.close()
        await self.exception_book.close()  # writes back use counts: before the database
        self.gateway.parts.rejections.flush()
        for exporter in self.exporters:  # what they did not deliver waits behind the cursor
            await exporter.close()
        await self.audit.close()
        await self.content.close()  # queued content reaches the store
        if self.ledger is not None:  # limits: settled spend reaches the ledger
            await self.ledger.close()
        if self.limiter is not None:  # limits: the counter store's connections
            await self.limiter.store.close()
        await self.gateway.parts.idempotency.close()
        await self.router.close()
        await asyncio.to_thread(self.gateway.parts.tracer.shutdown)  # flush queued spans
        await self.verifier.close()
        if self._change_push is not None:
            await self._change_push.close()
        await self.database.close()
        self._started = False

    async def reload(self) -> bool:
        """Re-read the config file and apply what can change live (SIGHUP, --watch)."""
        new = load_candidate(self.config, self.config_path, self._overrides)
        parts = self.gateway.parts
        guardrails = limits = None
        reason = "invalid config"
        if new is not None:
            try:
                reason = "detectors do not build"
                guardrails = build_guardrails(
                    new, keyring=self.guardrails.keyring, decider=self.policy.decider
                )
                reason = "limits do not build"
                limits = limiter_settings(new)  # a USD budget on a model without a price
            except ConfigError as exc:
                log.error("config reload rejected: %s", exc)
        if new is None or guardrails is None or limits is None:
            parts.metrics.config_reloads.labels("rejected").inc()
            await self._record_reload("rejected", reason)
            return False
        # the active policy, compiled for the new classes and models, or the reload is
        # rejected (unless no valid policy was in force anyway)
        if not await self.policy.reload(new) and self.policy.loaded:
            parts.metrics.config_reloads.labels("rejected").inc()
            log.error("config reload rejected: the active policy does not load with it")
            await self._record_reload("rejected", "the active policy does not load with it")
            return False
        try:
            await self.class_sets.save(guardrails.class_set)
        except StorageError as exc:  # replay reports such calls as incomplete
            log.error("class set not saved: %s", type(exc).__name__)
        self.guardrails = guardrails
        parts.inspector = guardrails.inspector
        parts.transformer = guardrails.transformer
        parts.class_set = guardrails.class_set_digest
        router = Router(new)
        await router.start()
        old_router, self.router = self.router, router
        parts.router = router
        parts.models = new.models
        parts.wire = wire_options(new)
        restart = sections_needing_restart(self.config, new)
        restart += await self._reload_limits(new, limits)
        self.config = new
        retire = asyncio.create_task(self._retire(old_router, new))
        self._retired[retire] = old_router
        retire.add_done_callback(lambda task: self._retired.pop(task, None))
        parts.metrics.config_reloads.labels("applied").inc()
        log.info("config reloaded: %d models", len(new.models))
        await self._record_reload("applied", None)
        if restart:
            log.warning("config sections %s changed; they apply after a restart", restart)
        if self._watch:
            await self._watch_policy_file()
        return True

    async def _reload_limits(self, new: BastionConfig, settings: LimiterSettings) -> list[str]:
        """The next calls count under the reloaded ``limits`` and prices; what needs a
        restart (rules where none ran: no counter store was opened at start)."""
        if self.limiter is None:
            if new.limits.rules:
                return ["limits.rules"]
            self.gateway.parts.limiter = Unlimited(known_prices(new))  # call records' cost
            return []
        self._counted_rules = await reconfigure_limiter(
            self.limiter, settings, self.spend, self._counted_rules
        )
        return []

    async def _record_reload(self, result: str, reason: str | None) -> None:
        """Chain a reload's outcome as an admin event of the host's operator (a reload
        comes from SIGHUP or ``serve --watch`` on the host). Never fails the reload."""
        trail = AdminTrail(
            AuditEventRepository(self.database),
            signer=Signer(self.guardrails.keyring.active("signing")),
            checkpoint_file=audit_location.checkpoint_file(self.config),
        )
        details = {"result": result} | ({"reason": reason} if reason else {})
        operator = AdminIdentity(subject=LOCAL_ADMIN_SUBJECT, role=AdminRole.ADMIN)
        try:
            await trail.record(operator, "config.reload", str(self.config_path or ""), details)
        except BastionError as exc:
            log.error("config reload not recorded on the audit trail: %s", type(exc).__name__)

    async def _watch_policy_file(self) -> None:
        """``serve --watch``: activate ``policy.file`` whenever it changes (the watcher
        follows the file the current config names)."""
        path = self.config.policy.file
        watcher = self._policy_watcher
        if watcher is not None and watcher.path == path:
            return
        if watcher is not None:
            await watcher.close()
        self._policy_watcher = None
        if path is not None:
            self._policy_watcher = ConfigWatcher(path, self.policy.apply_file)
            self._policy_watcher.start()

    async def observe_budgets(self) -> None:
        """Read what is left of every budget from the spend ledger into
        ``bastion_budget_remaining`` (at scrape time, at most every few seconds; a
        ledger that cannot be read keeps the last values)."""
        now = time.time()
        if self.limiter is None or now - self._budgets_read_at < _BUDGETS_READ_EVERY_S:
            return
        self._budgets_read_at = now
        try:
            statuses = await budget_statuses(self.config.limits, self.spend, now)
        except StorageError as exc:
            log.warning("metrics: budget totals not read from the ledger (%s)", type(exc).__name__)
            return
        self.gateway.parts.metrics.budget_remaining.observe(statuses)

    def _soft_limit_reached(self, rule: str, limit: str) -> None:
        if self._soft_alerts is not None:
            self._soft_alerts.labels(rule, limit).inc()

    def _limits_fail_open(self) -> None:
        if self._fail_open_passes is not None:
            self._fail_open_passes.inc()

    def _limits_degraded(self, outcome: str) -> None:
        if self._degraded_decisions is not None:
            self._degraded_decisions.labels(outcome).inc()

    def _change_push_failed(self) -> None:
        if self._push_failures is not None:
            self._push_failures.inc()

    def _install_decider(self, decider: Decider) -> None:
        self.gateway.parts.decider = decider

    async def _retire(self, router: Router, config: BastionConfig) -> None:
        """Close a replaced router once calls that started on it can have ended."""
        longest = max((p.timeouts.total_s for p in config.providers.values()), default=0.0)
        await asyncio.sleep(min(longest, 600.0))
        await router.close()

    async def _keys_changed(self) -> None:
        self.verifier.invalidate(None)

    def _key_store_polled(self, reachable: bool) -> None:
        """The change feed lives in the key store: whether its poll got an answer is
        what ``/readyz`` goes by between key lookups (and a lookup's outcome, after)."""
        self.verifier.store_reachable = reachable

    def readiness(self) -> tuple[str, list[str]]:
        """``ready`` / ``degraded`` (with names) / ``unavailable`` for ``/readyz``."""
        if not self._started or not self.audit.healthy or not self.policy.loaded:
            return "unavailable", []
        if not self.verifier.store_reachable and self.verifier.cached_keys == 0:
            return "unavailable", []
        # limits: counters in Redis that cannot be reached refuse calls unless fail-open;
        # a shared file (sqlite) that fails always refuses them
        store = self.limiter.store if self.limiter is not None else None
        redis_down = store is not None and not store.reachable
        closed = self.config.limits.on_store_down == "closed"
        if redis_down and (closed or (store is not None and store.name == "sqlite")):
            return "unavailable", []
        degraded = [name for name, state in self.router.health().items() if state == "open"]
        if not self.verifier.store_reachable:
            degraded.append("key_store")
        if redis_down:
            degraded.append("redis")
        return ("degraded" if degraded else "ready"), degraded

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """ASGI lifespan: start on startup, close on shutdown."""
        message: dict[str, Any]
        while True:
            message = dict(await receive())
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    if isinstance(exc, BastionError):  # says what to fix: no traceback
                        log.error("startup failed: %s", exc)
                    else:
                        log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
