"""Where the keyring lives for a configuration (CONTRACT.md: generated only in embedded
mode; required, never generated, with a shared database so replicas agree)."""

from __future__ import annotations

from pathlib import Path

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring, load_keyring
from bastion.errors import ConfigError

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+aiosqlite:///")


def keyring_location(config: BastionConfig) -> tuple[Path | None, bool]:
    """(keyring file, may generate it): beside an SQLite database, else as configured."""
    if config.crypto.keyring_file is not None:
        return config.crypto.keyring_file, _embedded(config)
    url = config.storage.url
    if _embedded(config):
        database = url.split(":///", 1)[1].split("?", 1)[0]
        if not database or database.startswith((":memory:", "file:")):
            return None, True  # an in-memory store gets an in-memory ring
        return Path(database).parent / "keyring.json", True
    raise ConfigError(
        "crypto.keyring_file is required with a shared database: every replica must use the "
        "same pseudonym and fingerprint keys (create one with `bastion crypto init`)"
    )


def _embedded(config: BastionConfig) -> bool:
    return config.storage.url.startswith(_SQLITE_PREFIXES)


def open_keyring(config: BastionConfig) -> Keyring:
    path, generate = keyring_location(config)
    return Keyring.generate() if path is None else load_keyring(path, generate=generate)
