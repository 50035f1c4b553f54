"""Where the audit write-ahead log and the checkpoint file live for a configuration."""

from __future__ import annotations

from pathlib import Path

from bastion.config.schema import BastionConfig

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+aiosqlite:///")


def wal_dir(config: BastionConfig) -> Path:
    """``audit.wal_dir``; default ``audit-wal`` beside SQLite, else ``.bastion/audit-wal``."""
    if config.audit.wal_dir is not None:
        return config.audit.wal_dir
    url = config.storage.url
    if url.startswith(_SQLITE_PREFIXES):
        database = url.split(":///", 1)[1].split("?", 1)[0]
        if database and not database.startswith((":memory:", "file:")):
            return Path(database).parent / "audit-wal"
    return Path(".bastion") / "audit-wal"


def checkpoint_file(config: BastionConfig) -> Path:
    """``audit.checkpoint_file``; default ``audit-checkpoints.jsonl`` beside the log dir."""
    if config.audit.checkpoint_file is not None:
        return config.audit.checkpoint_file
    return wal_dir(config).parent / "audit-checkpoints.jsonl"
