"""Keyring backups: encrypted under a passphrase, restorable, useless without it."""

from __future__ import annotations

import json

import pytest

from bastion.crypto.backup import backup_keyring, restore_keyring
from bastion.crypto.keyring import Keyring
from bastion.errors import ConfigError

PASSPHRASE = "correct horse battery staple"


def test_a_backup_restores_the_same_keys_and_hides_the_secrets() -> None:
    ring = Keyring.generate().rotated("content")
    document = backup_keyring(ring, PASSPHRASE)
    listed = json.loads(document)
    assert {k["id"] for k in listed["keys"]} == {k.id for k in ring.keys}
    for entry in json.loads(ring.to_json())["keys"]:
        assert entry["secret"] not in document.decode()
    restored = restore_keyring(document, PASSPHRASE, "backup.json")
    assert restored.to_json() == ring.to_json()


def test_a_wrong_passphrase_or_an_altered_backup_is_refused() -> None:
    document = backup_keyring(Keyring.generate(), PASSPHRASE)
    with pytest.raises(ConfigError, match="wrong passphrase"):
        restore_keyring(document, PASSPHRASE + "!", "backup.json")
    altered = json.loads(document)
    first = altered["ciphertext"][0]
    altered["ciphertext"] = ("B" if first == "A" else "A") + altered["ciphertext"][1:]
    with pytest.raises(ConfigError, match="wrong passphrase, or the backup was altered"):
        restore_keyring(json.dumps(altered).encode(), PASSPHRASE, "backup.json")
    with pytest.raises(ConfigError, match="not a usable keyring backup"):
        restore_keyring(b'{"format": "other"}', PASSPHRASE, "backup.json")


def test_a_short_passphrase_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 12 characters"):
        backup_keyring(Keyring.generate(), "short")
