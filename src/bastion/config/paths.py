"""Resolve the config's relative paths and read provider key files.

Relative paths written in the config file are relative to the file's directory, so a
config works the same whatever directory ``bastion`` is started from. This covers
``policy.file``, ``providers.*.api_key_file``, the providers' TLS files
(``ca_bundle``, ``client_cert``, ``client_key``: loaded once here to check them),
``audit.wal_dir``,
``audit.checkpoint_file``, ``limits.sqlite_file`` and a relative SQLite path in
``storage.url`` (``sqlite:///.bastion/bastion.db`` becomes ``sqlite:////abs/dir/
.bastion/bastion.db``). A value set by environment or flag is relative to the current
directory instead, as a shell user expects; with no config file at all, so are defaults.

``api_key_file`` is read here, once, at load time; the key ends up in ``api_key`` and
the resolved file path stays in ``api_key_file``. A key file's content never appears
in an error.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import SecretStr

from bastion.config.layers import Origin, origin_of
from bastion.config.schema import BastionConfig, ProviderConfig
from bastion.config.tls import ssl_context
from bastion.config.yaml_lines import KeyPath, dotted
from bastion.errors import ConfigError

_SQLITE_URL = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?):///(?P<rest>.*)$", re.DOTALL)


def resolve_paths(
    config: BastionConfig, origins: Mapping[KeyPath, Origin], default_base: Path
) -> BastionConfig:
    """Return ``config`` with relative paths made absolute and key files read."""

    def base_for(path: KeyPath) -> Path:
        origin = origin_of(origins, path)
        if origin is None or origin.base_dir is None:
            return default_base
        return origin.base_dir

    providers = {
        name: _check_tls(
            _read_key_file(provider, ("providers", name), base_for, origins),
            ("providers", name),
            base_for,
            origins,
        )
        for name, provider in config.providers.items()
    }
    policy = config.policy
    if policy.file is not None and not policy.file.is_absolute():
        policy = policy.model_copy(update={"file": base_for(("policy", "file")) / policy.file})
    storage = config.storage.model_copy(
        update={"url": resolve_sqlite_url(config.storage.url, base_for(("storage", "url")))}
    )
    crypto = config.crypto
    if crypto.keyring_file is not None and not crypto.keyring_file.is_absolute():
        keyring = base_for(("crypto", "keyring_file")) / crypto.keyring_file
        crypto = crypto.model_copy(update={"keyring_file": keyring})
    audit = config.audit
    for name in ("wal_dir", "checkpoint_file"):
        value = getattr(audit, name)
        if value is not None and not value.is_absolute():
            audit = audit.model_copy(update={name: base_for(("audit", name)) / value})
    limits = config.limits
    if limits.sqlite_file is not None and not limits.sqlite_file.is_absolute():
        sqlite_file = base_for(("limits", "sqlite_file")) / limits.sqlite_file
        limits = limits.model_copy(update={"sqlite_file": sqlite_file})
    custom = {
        name: entry.model_copy(
            update={
                "dictionary": base_for(("detectors", "custom", name, "dictionary"))
                / entry.dictionary
            }
        )
        if entry.dictionary is not None and not entry.dictionary.is_absolute()
        else entry
        for name, entry in config.detectors.custom.items()
    }
    detectors = config.detectors.model_copy(update={"custom": custom})
    return config.model_copy(
        update={
            "providers": providers,
            "policy": policy,
            "storage": storage,
            "crypto": crypto,
            "audit": audit,
            "limits": limits,
            "detectors": detectors,
        }
    )


def resolve_sqlite_url(url: str, base: Path) -> str:
    """Make a relative SQLite database path in ``url`` absolute under ``base``."""
    match = _SQLITE_URL.match(url)
    if match is None:
        return url
    rest = match.group("rest")
    database, separator, query = rest.partition("?")
    if not database or database.startswith(("/", ":memory:", "file:")):
        return url
    absolute = (base / database).absolute()
    return f"{match.group('scheme')}:///{absolute}{separator}{query}"


def _read_key_file(
    provider: ProviderConfig,
    path: KeyPath,
    base_for: Callable[[KeyPath], Path],
    origins: Mapping[KeyPath, Origin],
) -> ProviderConfig:
    if provider.api_key_file is None:
        return provider
    key_path = (*path, "api_key_file")
    file = provider.api_key_file
    if not file.is_absolute():
        file = base_for(key_path) / file
    origin = origin_of(origins, key_path)
    where = f"{origin.describe()}: " if origin is not None else ""
    try:
        key = file.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{where}{dotted(key_path)}: cannot read {file}: {reason}") from exc
    key = key.strip()
    if not key:
        raise ConfigError(f"{where}{dotted(key_path)}: {file} is empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        raise ConfigError(
            f"{where}{dotted(key_path)}: {file} holds more than one line or a control "
            "character; it must hold the key alone"
        )
    return provider.model_copy(update={"api_key": SecretStr(key), "api_key_file": file})


_TLS_FILES = ("ca_bundle", "client_cert", "client_key")


def _check_tls(
    provider: ProviderConfig,
    path: KeyPath,
    base_for: Callable[[KeyPath], Path],
    origins: Mapping[KeyPath, Origin],
) -> ProviderConfig:
    """Make the TLS file paths absolute and load them once, so a bad file fails here."""
    update: dict[str, Path] = {}
    for name in _TLS_FILES:
        file = getattr(provider, name)
        if file is not None and not file.is_absolute():
            update[name] = base_for((*path, name)) / file
    resolved = provider.model_copy(update=update) if update else provider
    try:
        ssl_context(resolved)
    except (OSError, ssl.SSLError) as exc:
        named = [name for name in _TLS_FILES if getattr(resolved, name) is not None]
        origin = origin_of(origins, (*path, named[0]))
        where = f"{origin.describe()}: " if origin is not None else ""
        files = ", ".join(f"{name} {getattr(resolved, name)}" for name in named)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"{where}{dotted(path)}: cannot load TLS files ({files}): {reason}"
        ) from None
    return resolved
