"""The admin chain as governed operations write to it: who changed keys, policy versions
and policy exceptions, recorded as admin events (``audit.admin_events``), checkpointed
when a signing key is at hand.

Used by the shared governance service, so a change made from the CLI and one made
through the admin API leave the same event. Bodies carry ids, subjects and counts, never
key secrets, policy text or justifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bastion.audit.admin_events import AdminAction, AdminChainStore, record_admin_action
from bastion.audit.checkpoints import Signer
from bastion.identity.admin import AdminIdentity
from bastion.model.chain import ChainedEvent


class AdminTrail:
    """Appends one admin event per governed change."""

    def __init__(
        self,
        store: AdminChainStore,
        *,
        signer: Signer | None = None,
        checkpoint_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._signer = signer
        self._checkpoint_file = checkpoint_file
        self._clock = clock

    async def record(
        self,
        actor: AdminIdentity,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> ChainedEvent:
        """Chain ``action`` (``key.create``, ``policy.activate``, ...) on ``target`` by
        ``actor``; StorageError when the store cannot take it."""
        return await record_admin_action(
            self._store,
            AdminAction(action, actor.subject, actor.role.value, target, dict(details or {})),
            self._clock(),
            signer=self._signer,
            checkpoint_file=self._checkpoint_file,
        )
