"""The keyring: keyed fingerprints with key ids, rotation, the file on disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bastion.config.schema import BastionConfig
from bastion.crypto.keyring import Keyring, load_keyring, write_keyring
from bastion.crypto.location import keyring_location
from bastion.errors import ConfigError


def test_fingerprints_are_stable_keyed_and_carry_the_key_id() -> None:
    ring = Keyring.generate()
    first = ring.fingerprint("pii.email", "ann@example.com")
    assert first == ring.fingerprint("pii.email", "ann@example.com")
    assert first.startswith(ring.active("fingerprint").id + ":")
    assert "ann" not in first
    assert first != ring.fingerprint("pii.email", "bob@example.com")
    assert first != ring.fingerprint("pii.person", "ann@example.com")
    assert first != Keyring.generate().fingerprint("pii.email", "ann@example.com")


def test_old_fingerprints_still_match_after_rotation() -> None:
    ring = Keyring.generate()
    old = ring.fingerprint("pii.email", "ann@example.com")
    rotated = ring.rotated("fingerprint")
    new = rotated.fingerprint("pii.email", "ann@example.com")
    assert new != old
    assert rotated.matches(old, "pii.email", "ann@example.com")
    assert rotated.matches(new, "pii.email", "ann@example.com")
    assert not rotated.matches(old, "pii.email", "bob@example.com")
    assert not rotated.matches("fp_unknown:00", "pii.email", "ann@example.com")


def test_file_round_trip_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "ring" / "keyring.json"
    ring = load_keyring(path, generate=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_keyring(path, generate=False)
    assert again.fingerprint("pii.email", "x@y.z") == ring.fingerprint("pii.email", "x@y.z")
    assert repr(ring.active("pseudonym")).count("secret") == 0


def test_missing_file_is_never_generated_when_shared(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bastion crypto init"):
        load_keyring(tmp_path / "keyring.json", generate=False)


@pytest.mark.parametrize(
    "content",
    [b"not json", b'{"version": 9}', b'{"version": 1, "active": {}, "keys": []}'],
    ids=["garbage", "version", "no-active-key"],
)
def test_bad_files_are_config_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keyring.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"keyring"):
        load_keyring(path, generate=False)


def test_keyring_location(tmp_path: Path) -> None:
    embedded = BastionConfig(storage={"url": f"sqlite:///{tmp_path}/db/bastion.db"})
    assert keyring_location(embedded) == (tmp_path / "db" / "keyring.json", True)
    memory = BastionConfig(storage={"url": "sqlite:///:memory:"})
    assert keyring_location(memory) == (None, True)
    shared = BastionConfig(storage={"url": "postgresql+asyncpg://db/bastion"})
    with pytest.raises(ConfigError, match="keyring_file is required"):
        keyring_location(shared)
    configured = BastionConfig(
        storage={"url": "postgresql+asyncpg://db/bastion"},
        crypto={"keyring_file": str(tmp_path / "ring.json")},
    )
    assert keyring_location(configured) == (tmp_path / "ring.json", False)


def test_write_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first, second = Keyring.generate(), Keyring.generate()
    write_keyring(path, first)
    write_keyring(path, second)
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]
    loaded = load_keyring(path, generate=False)
    assert loaded.active("fingerprint").id == second.active("fingerprint").id
