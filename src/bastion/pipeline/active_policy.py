"""The gateway's policy: the store's active version, compiled for this config.

At start the active version is compiled against the config's data classes and models.
With none active, ``policy.file`` seeds the store (activated with reason ``seed`` by
``bastion-serve``); with neither, every call is allowed as asked. When the file differs
from the active version, the store wins and a warning names both. In development
(``serve --watch``) the file wins instead: it is uploaded and activated at start and on
every change, by ``bastion-serve --watch``.

A ``policy`` change notification (:meth:`ActivePolicy.subscribe_to`) loads the active
version again; a config reload compiles it for the new config (:meth:`reload`). A
version that does not compile is rejected: the policy in force stays, the error is
logged with the file and line it was uploaded from, and
``bastion_policy_loads_total{result="rejected"}`` counts it.

Fail closed: when a policy is configured or active but none valid could be loaded, the
decider is :class:`PolicyUnavailable` (calls get 503 ``guardrail_unavailable``, /readyz
503) until a valid version is activated, never allow-all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from prometheus_client import Counter

from bastion.config.schema import BastionConfig
from bastion.errors import ConfigError, StorageError
from bastion.identity.changes import ChangeNotifier
from bastion.pipeline.guardrails import policy_from_text
from bastion.policy.base import AllowAll, Decider, PolicyUnavailable
from bastion.policy.loader import Policy, read_policy_text
from bastion.storage.changes import ChangeKind
from bastion.storage.policies import PolicyRepository, PolicyVersion, content_digest

logger = logging.getLogger(__name__)

SERVE_SUBJECT = "bastion-serve"
WATCH_SUBJECT = "bastion-serve --watch"


def compile_version(config: BastionConfig, version: PolicyVersion) -> Policy:
    """A stored version compiled for ``config``; ConfigError names the file it was
    uploaded from and the line."""
    return policy_from_text(config, version.content, version.source or f"policy-v{version.id}")


class ActivePolicy:
    """Keeps the decider in force in step with the store (module docstring)."""

    def __init__(
        self,
        repository: PolicyRepository,
        config: BastionConfig,
        install: Callable[[Decider], None],
        loads: Counter,
    ) -> None:
        self._repository = repository
        self._config = config
        self._install = install
        self._loads = loads
        self._digest: str | None = None  # of the version in force
        self._lock = asyncio.Lock()
        self.decider: Decider = PolicyUnavailable()
        install(self.decider)

    @property
    def loaded(self) -> bool:
        """Whether calls can be decided (a valid policy, or none required)."""
        return not isinstance(self.decider, PolicyUnavailable)

    def subscribe_to(self, changes: ChangeNotifier) -> None:
        """Load the active version whenever the change feed says ``policy`` changed."""
        changes.subscribe(ChangeKind.POLICY.value, self.refresh)

    async def start(self, *, watch: bool = False) -> None:
        """Load, seed or (``watch``) upload the policy; an invalid one leaves calls
        refused. StorageError when the store cannot be read."""
        async with self._lock:
            if watch:
                await self._activate_file("the store's active version is used instead")
            try:
                decider, digest = await self._resolve(self._config, warn=not watch)
            except ConfigError as exc:
                self._rejected(exc, "no policy is in force: calls are refused until one is")
                return
            self._use(decider, digest)

    async def refresh(self) -> None:
        """Load the active version if it changed (a ``policy`` change notification)."""
        async with self._lock:
            try:
                active = await self._repository.active()
            except StorageError as exc:
                logger.warning("cannot read the active policy: %s", exc)
                return
            if active is None or active.version.digest == self._digest:
                return
            try:
                policy = compile_version(self._config, active.version)
            except ConfigError as exc:
                self._rejected(exc, self._staying(), active.version)
                return
            self._use(policy, active.version.digest)

    async def reload(self, config: BastionConfig) -> bool:
        """Compile the active policy for a reloaded ``config`` and adopt both; False
        (logged, counted) when it does not compile. Then the running config should stay,
        unless no valid policy was loaded anyway (``loaded`` is False)."""
        async with self._lock:
            try:
                decider, digest = await self._resolve(config, warn=True)
            except (ConfigError, StorageError) as exc:
                if not self.loaded:
                    self._config = config
                self._rejected(exc, self._staying())
                return False
            self._config = config
            self._use(decider, digest)
            return True

    async def apply_file(self) -> None:
        """Upload and activate the edited ``policy.file`` (``serve --watch``), then use
        it; an invalid file is logged and counted, and the policy in force stays."""
        async with self._lock:
            activated = await self._activate_file(self._staying())
            if activated is not None:
                self._use(*activated)

    async def _resolve(self, config: BastionConfig, *, warn: bool) -> tuple[Decider, str | None]:
        """The decider for ``config``: the active version, seeded from the file when
        nothing is active; AllowAll when there is neither. ConfigError when invalid."""
        path = config.policy.file
        active = await self._repository.active()
        if active is None and path is not None:
            text = read_policy_text(path)
            seed = policy_from_text(config, text, str(path))
            active = await self._repository.seed(
                text,
                name=seed.document.name,
                label=seed.document.version,
                source=str(path),
                by=SERVE_SUBJECT,
            )
        if active is None:
            return AllowAll(), None
        policy = compile_version(config, active.version)
        if warn and path is not None:
            _warn_if_file_differs(config, path, active.version)
        return policy, active.version.digest

    async def _activate_file(self, outcome: str) -> tuple[Policy, str] | None:
        """Validate ``policy.file``, make it the active version (by ``bastion-serve
        --watch``) and return it with its digest; None (logged with ``outcome``,
        counted) when it is invalid or unreadable."""
        path = self._config.policy.file
        if path is None:
            return None
        try:
            text = read_policy_text(path)
            policy = policy_from_text(self._config, text, str(path))
            version, activation = await self._repository.upload_and_activate(
                text,
                name=policy.document.name,
                label=policy.document.version,
                source=str(path),
                by=WATCH_SUBJECT,
            )
        except (ConfigError, StorageError) as exc:
            self._rejected(exc, outcome)
            return None
        if activation is not None:
            logger.info("policy file %s activated as %s", path, version.version)
        return policy, version.digest

    def _use(self, decider: Decider, digest: str | None) -> None:
        self.decider, self._digest = decider, digest
        self._install(decider)
        if digest is not None:
            self._loads.labels("ok").inc()
            logger.info("policy %s in force", decider.version)

    def _staying(self) -> str:
        if not self.loaded:
            return "no policy is in force: calls are refused until one is"
        return f"{self.decider.version or 'no policy (allow all)'} stays in force"

    def _rejected(
        self, error: Exception, outcome: str, version: PolicyVersion | None = None
    ) -> None:
        self._loads.labels("rejected").inc()
        what = f"policy {version.version} (version {version.id})" if version else "policy"
        logger.error("%s rejected; %s:\n%s", what, outcome, error)


def _warn_if_file_differs(config: BastionConfig, path: Path, active: PolicyVersion) -> None:
    """Say so when ``policy.file`` is not the active version: the store wins."""
    try:
        text = read_policy_text(path)
    except ConfigError as exc:
        logger.warning("policy %s is active; %s", active.version, exc)
        return
    digest = content_digest(text)
    if digest == active.digest:
        return
    try:
        named = policy_from_text(config, text, str(path)).version
    except ConfigError:
        named = f"an invalid policy (sha256 {digest[:12]})"
    logger.warning(
        "policy.file %s holds %s, but the store's active version %s (version %d) wins; "
        "activate the file with `bastion policy activate %s` to use it",
        path,
        named,
        active.version,
        active.id,
        path,
    )
