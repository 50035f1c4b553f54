"""One keyring for the deployment: keyed digests for pseudonyms and fingerprints, the
Ed25519 key that signs audit checkpoints, and the AES-256-GCM keys that encrypt retained
content (audit retention mode ``encrypted``).

Each key has an id and a purpose. Fingerprints carry the id of the key that made them
(``fp_1a2b3c4d:…``) so records written before a rotation stay matchable: ``matches``
tries every fingerprint key the ring still holds. Keys live in one JSON file (mode
0600). In embedded mode (SQLite) a missing file is generated on first start; with
PostgreSQL the file is required, never generated, so every replica uses the same keys.

Signing and content keys are the purposes a ring may lack (rings written before they
existed): in embedded mode they are added on the next start; with PostgreSQL,
``bastion crypto rotate signing`` (or ``content``) adds them to the shared file.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bastion.errors import ConfigError

Purpose = Literal["pseudonym", "fingerprint", "signing", "content"]
PURPOSES: tuple[Purpose, ...] = ("pseudonym", "fingerprint", "signing", "content")
_REQUIRED: tuple[Purpose, ...] = ("pseudonym", "fingerprint")
_PREFIX: Mapping[Purpose, str] = {
    "pseudonym": "ps",
    "fingerprint": "fp",
    "signing": "sg",
    "content": "ck",
}
_CONTENT_DIGEST = "bastion.audit.content"  # domain of content digests under the fingerprint key
_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class RingKey:
    """One secret key; ``secret`` never leaves the process (no repr)."""

    id: str
    purpose: Purpose
    secret: bytes
    created: str

    def __repr__(self) -> str:
        return f"RingKey(id={self.id!r}, purpose={self.purpose!r})"

    def digest(self, *parts: str) -> bytes:
        """HMAC-SHA256 of the parts, unambiguously joined."""
        message = b"\x00".join(part.encode("utf-8", "surrogatepass") for part in parts)
        return hmac.new(self.secret, message, hashlib.sha256).digest()


def new_key(purpose: Purpose) -> RingKey:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    key_id = f"{_PREFIX[purpose]}_{secrets.token_hex(4)}"
    return RingKey(key_id, purpose, secrets.token_bytes(32), created)


class Keyring:
    """The active key per purpose plus retired keys kept for matching old records."""

    def __init__(self, keys: Iterable[RingKey], active: Mapping[Purpose, str]) -> None:
        self._keys = {key.id: key for key in keys}
        self._active: dict[Purpose, RingKey] = {}
        for purpose in PURPOSES:
            key = self._keys.get(active.get(purpose, ""))
            if key is None and purpose not in _REQUIRED and purpose not in active:
                continue
            if key is None or key.purpose != purpose:
                raise ConfigError(f"keyring: no active {purpose} key")
            self._active[purpose] = key

    @classmethod
    def generate(cls) -> Keyring:
        keys = [new_key(purpose) for purpose in PURPOSES]
        return cls(keys, {key.purpose: key.id for key in keys})

    def active(self, purpose: Purpose) -> RingKey:
        key = self._active.get(purpose)
        if key is None:
            raise ConfigError(
                f"keyring: no {purpose} key; add one with `bastion crypto rotate {purpose}`"
            )
        return key

    def has(self, purpose: Purpose) -> bool:
        """Whether the ring has an active key for ``purpose``."""
        return purpose in self._active

    def with_optional_keys(self) -> Keyring:
        """This ring, plus a signing and a content key where it has none (embedded mode)."""
        ring = self
        for purpose in ("signing", "content"):
            if not ring.has(purpose):
                ring = ring.rotated(purpose)
        return ring

    def key(self, key_id: str) -> RingKey | None:
        """The key with ``key_id`` (active or retired), or None."""
        return self._keys.get(key_id)

    @property
    def keys(self) -> tuple[RingKey, ...]:
        return tuple(self._keys.values())

    def fingerprint(self, data_class: str, value: str) -> str:
        """``<key id>:<32 hex>``: the same value of the same class always gives the same."""
        key = self._active["fingerprint"]
        return f"{key.id}:{key.digest(data_class, value)[:16].hex()}"

    def matches(self, fingerprint: str, data_class: str, value: str) -> bool:
        """Whether ``fingerprint`` was made from this value under any key the ring holds."""
        key_id, _, digest = fingerprint.partition(":")
        key = self._keys.get(key_id)
        if key is None or key.purpose != "fingerprint":
            return False
        expected = key.digest(data_class, value)[:16].hex()
        return hmac.compare_digest(expected, digest)

    def fingerprints_of(self, data_class: str, value: str) -> tuple[str, ...]:
        """The fingerprints ``value`` has under every fingerprint key the ring holds
        (retired keys too): what records written before a rotation carry."""
        return tuple(
            f"{key.id}:{key.digest(data_class, value)[:16].hex()}"
            for key in self._keys.values()
            if key.purpose == "fingerprint"
        )

    def content_digest(self, *parts: str) -> str:
        """``<key id>:<64 hex>``: a salted (keyed) digest linking retained content to its
        chained record; without the key a short value cannot be guessed back from it."""
        key = self._active["fingerprint"]
        return f"{key.id}:{key.digest(_CONTENT_DIGEST, *parts).hex()}"

    def content_digest_matches(self, digest: str, *parts: str) -> bool:
        """Whether ``digest`` was made from ``parts`` under a key the ring holds."""
        key_id, _, expected = digest.partition(":")
        key = self._keys.get(key_id)
        if key is None or key.purpose != "fingerprint":
            return False
        return hmac.compare_digest(key.digest(_CONTENT_DIGEST, *parts).hex(), expected)

    def pseudonym_digest(self, data_class: str, value: str) -> bytes:
        """The keyed digest pseudonyms and synthesized values are drawn from."""
        return self._active["pseudonym"].digest(data_class, value)

    def rotated(self, purpose: Purpose) -> Keyring:
        """A ring with a fresh active key for ``purpose``; the old one stays for matching."""
        fresh = new_key(purpose)
        active = {p: key.id for p, key in self._active.items()}
        active[purpose] = fresh.id
        return Keyring([*self._keys.values(), fresh], active)

    def to_json(self) -> bytes:
        document = {
            "version": _FORMAT_VERSION,
            "active": {p: key.id for p, key in self._active.items()},
            "keys": [
                {
                    "id": key.id,
                    "purpose": key.purpose,
                    "created": key.created,
                    "secret": base64.b64encode(key.secret).decode(),
                }
                for key in self._keys.values()
            ],
        }
        return json.dumps(document, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes, origin: str) -> Keyring:
        try:
            document = json.loads(raw)
            if document.get("version") != _FORMAT_VERSION:
                raise ValueError(f"unsupported version {document.get('version')!r}")
            keys = [
                RingKey(
                    str(entry["id"]),
                    _purpose(entry["purpose"]),
                    base64.b64decode(entry["secret"], validate=True),
                    str(entry.get("created", "")),
                )
                for entry in document["keys"]
            ]
            active = {_purpose(p): str(i) for p, i in document["active"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{origin}: not a Bastion keyring ({exc})") from exc
        for key in keys:
            if len(key.secret) < 32:
                raise ConfigError(f"{origin}: key {key.id} is shorter than 32 bytes")
        return cls(keys, active)


def _purpose(value: object) -> Purpose:
    for purpose in PURPOSES:
        if value == purpose:
            return purpose
    raise ValueError(f"unknown key purpose {value!r}")


def load_keyring(path: Path, *, generate: bool) -> Keyring:
    """Read the keyring file; create it (0600) when missing and ``generate`` is set."""
    try:
        ring = Keyring.from_json(path.read_bytes(), str(path))
    except FileNotFoundError:
        if not generate:
            raise ConfigError(
                f"keyring file {path} does not exist; with PostgreSQL every replica must "
                "share one keyring: create it once with `bastion crypto init --keyring-file "
                f"{path}` and give it to each replica (crypto.keyring_file)"
            ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read keyring file {path}: {exc.strerror}") from exc
    else:
        if generate and not _complete(ring):  # a ring from before signing or content keys
            ring = _upgraded(path)
        return ring
    ring = Keyring.generate()
    if _create_keyring(path, ring):
        return ring
    # another process (a second worker starting beside this one) created it first:
    # every process must use the same keys, so the one on disk wins
    return Keyring.from_json(path.read_bytes(), str(path))


def _complete(ring: Keyring) -> bool:
    return ring.has("signing") and ring.has("content")


def _upgraded(path: Path) -> Keyring:
    """The ring at ``path`` with its signing and content keys, added once: under an
    exclusive lock on the file, so workers starting together do not each add keys of
    their own (the one that loses would sign and seal with keys nobody keeps). A waiter
    reads the file again by name, and finds the upgraded ring written beside it."""
    with open(path, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released when the file closes
        ring = Keyring.from_json(path.read_bytes(), str(path))
        if not _complete(ring):
            ring = ring.with_optional_keys()
            write_keyring(path, ring)
        return ring


def write_keyring(path: Path, ring: Keyring) -> None:
    """Write atomically with owner-only permissions."""
    temporary = _written_beside(path, ring)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _create_keyring(path: Path, ring: Keyring) -> bool:
    """Write ``ring`` to ``path`` only if no file is there yet (atomically, by a hard
    link of a complete file): False when another process created it first."""
    temporary = _written_beside(path, ring)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: replace, as before
        os.replace(temporary, path)
        return True
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _written_beside(path: Path, ring: Keyring) -> Path:
    """A temporary file beside ``path`` holding ``ring``, owner-only and fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(ring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary
