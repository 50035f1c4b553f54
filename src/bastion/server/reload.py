"""Applying a changed config file to a running process, or keeping the old one.

What can change live: providers, models and the wire options (the router is rebuilt
and swapped in; calls already under way finish on the old one), and limit rules,
prices and the time zone (the limiter counts the next calls under them). Server,
storage and audit settings, and the ``limits.store``, ``limits.sqlite_file``,
``limits.on_store_down``, ``limits.replicas`` and ``limits.idempotency*`` keys, need a
restart: a reload that changes them applies the rest and says so.
A config that fails validation is rejected whole; the old config stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bastion.background import stop
from bastion.config import reload_config
from bastion.config.schema import BastionConfig

log = logging.getLogger("bastion.config")

RESTART_SECTIONS = ("server", "storage", "redis", "audit", "tracing")
RESTART_LIMITS = (
    "store",
    "sqlite_file",
    "on_store_down",
    "replicas",
    "idempotency",
    "idempotency_ttl_s",
    "idempotency_in_flight_ttl_s",
    "idempotency_max_answer_bytes",
    "idempotency_max_memory_bytes",
)
"""``limits`` keys read once at start (the counter and idempotency stores are built then)."""


def sections_needing_restart(old: BastionConfig, new: BastionConfig) -> list[str]:
    """Changed sections (and ``limits.*`` keys) that a running process cannot apply."""
    changed = [name for name in RESTART_SECTIONS if getattr(old, name) != getattr(new, name)]
    changed += [
        f"limits.{name}"
        for name in RESTART_LIMITS
        if getattr(old.limits, name) != getattr(new.limits, name)
    ]
    return changed


class ConfigWatcher:
    """Polls a file's modification time (the config's, the policy's) and calls back when
    it changes."""

    def __init__(self, path: Path, reload: Any, interval_s: float = 1.0) -> None:
        self._path = path
        self._reload = reload
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._mtime = self._stat()

    @property
    def path(self) -> Path:
        """The file watched."""
        return self._path

    def _stat(self) -> float | None:
        try:
            return self._path.stat().st_mtime
        except OSError:
            return None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bastion-config-watch")

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # a reload that failed was logged where it ran
            await stop(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            mtime = self._stat()
            if mtime != self._mtime:
                self._mtime = mtime
                await self._reload()


def load_candidate(
    current: BastionConfig, path: Path | None, overrides: Mapping[str, Any]
) -> BastionConfig | None:
    """The new config, or None (logged) when it is invalid or there is no file."""
    if path is None:
        log.warning("config reload requested, but the process runs without a config file")
        return None
    new, error = reload_config(current, path, overrides=overrides)
    if error is not None:
        log.error("config reload rejected; the running config stays:\n%s", error)
        return None
    return new
