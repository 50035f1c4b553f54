"""Signed checkpoints of the audit chain, kept outside the database.

A checkpoint says "writer W's chain had seq S with hash H at time T", signed with the
keyring's Ed25519 signing key. Checkpoints go to an append-only JSON-lines file (ship
it off the host, e.g. to syslog or object storage with retention lock); a verifier
that finds a checkpoint beyond the database's head knows the tail was truncated, and
one whose hash differs knows the chain was rewritten (CloudTrail log-file validation
and Certificate Transparency do the same).
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bastion.audit.chain import canonical
from bastion.crypto.keyring import Keyring, RingKey


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed statement of a writer's chain head."""

    writer_id: str
    seq: int
    hash: str
    at: float
    key_id: str
    signature: str = ""

    def signed_part(self) -> bytes:
        return canonical(
            {"w": self.writer_id, "s": self.seq, "h": self.hash, "t": self.at, "k": self.key_id}
        )

    def to_line(self) -> bytes:
        return (
            canonical(
                {
                    "writer": self.writer_id,
                    "seq": self.seq,
                    "hash": self.hash,
                    "at": self.at,
                    "key_id": self.key_id,
                    "sig": self.signature,
                }
            )
            + b"\n"
        )


class Signer:
    """Signs checkpoints with an Ed25519 key from the keyring."""

    def __init__(self, key: RingKey) -> None:
        self.key_id = key.id
        self._private = Ed25519PrivateKey.from_private_bytes(key.secret[:32])

    def sign(self, writer_id: str, seq: int, digest: str, at: float) -> Checkpoint:
        unsigned = Checkpoint(writer_id, seq, digest, at, self.key_id)
        signature = base64.b64encode(self._private.sign(unsigned.signed_part())).decode()
        return Checkpoint(writer_id, seq, digest, at, self.key_id, signature)


def public_key_pem(key: RingKey) -> str:
    """The PEM (SubjectPublicKeyInfo) public half of a signing key."""
    public = Ed25519PrivateKey.from_private_bytes(key.secret[:32]).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_keys(ring: Keyring) -> dict[str, Ed25519PublicKey]:
    """Every signing key's public half, by key id (retired keys verify old checkpoints)."""
    return {
        key.id: Ed25519PrivateKey.from_private_bytes(key.secret[:32]).public_key()
        for key in ring.keys
        if key.purpose == "signing"
    }


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """A public key exported with ``bastion crypto export-public``."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def signature_valid(
    checkpoint: Checkpoint, keys: Mapping[str, Ed25519PublicKey], any_key: bool = False
) -> bool:
    """Whether the checkpoint was signed by the key it names (or by any given key)."""
    candidates = list(keys.values()) if any_key else [keys[checkpoint.key_id]]
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except ValueError:
        return False
    for key in candidates:
        with contextlib.suppress(InvalidSignature):
            key.verify(signature, checkpoint.signed_part())
            return True
    return False


class CheckpointFile:
    """Appends checkpoint lines (O_APPEND, fsynced: they are few)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, checkpoint.to_line())
            os.fsync(fd)
        finally:
            os.close(fd)


def read_checkpoints(path: Path) -> Iterator[tuple[int, Checkpoint | None]]:
    """(line number, checkpoint) per line; None for a line that is not a checkpoint."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data: dict[str, Any] = orjson.loads(line)
                yield (
                    number,
                    Checkpoint(
                        str(data["writer"]),
                        int(data["seq"]),
                        str(data["hash"]),
                        float(data["at"]),
                        str(data["key_id"]),
                        str(data["sig"]),
                    ),
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                yield number, None
