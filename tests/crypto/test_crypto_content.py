"""Content keys: AES-GCM sealing bound to its record, rotation, the embedded ring gaining
a content key, salted content digests, and fingerprints under every key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bastion.crypto.content import ContentUnreadable, seal, unseal
from bastion.crypto.keyring import Keyring, load_keyring, write_keyring

SSN = "219-09-9999"


def test_sealed_content_opens_only_with_its_key_and_its_record() -> None:
    ring = Keyring.generate()
    key_id, blob = seal(ring, f"SSN {SSN}".encode(), b"req_1")
    assert key_id == ring.active("content").id and key_id.startswith("ck_")
    assert SSN.encode() not in blob
    assert unseal(ring, key_id, blob, b"req_1") == f"SSN {SSN}".encode()
    with pytest.raises(ContentUnreadable, match="altered or belongs to another record"):
        unseal(ring, key_id, blob, b"req_2")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ContentUnreadable, match="altered"):
        unseal(ring, key_id, tampered, b"req_1")
    with pytest.raises(ContentUnreadable, match="not in this keyring"):
        unseal(Keyring.generate(), key_id, blob, b"req_1")


def test_content_sealed_before_a_rotation_still_opens() -> None:
    ring = Keyring.generate()
    old_id, old_blob = seal(ring, b"before", b"r")
    rotated = ring.rotated("content")
    new_id, _ = seal(rotated, b"after", b"r")
    assert new_id != old_id
    assert unseal(rotated, old_id, old_blob, b"r") == b"before"


def test_an_embedded_ring_from_before_content_keys_gains_one(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = Keyring.generate()
    document = json.loads(ring.to_json())
    document["keys"] = [k for k in document["keys"] if k["purpose"] != "content"]
    del document["active"]["content"]
    path.write_text(json.dumps(document))
    assert not load_keyring(path, generate=False).has("content")  # shared: never extended
    extended = load_keyring(path, generate=True)
    assert extended.has("content")
    assert extended.fingerprint("pii.email", "a@b.c") == ring.fingerprint("pii.email", "a@b.c")
    assert load_keyring(path, generate=False).has("content")  # written back


def test_content_digests_are_salted_with_the_deployment_key() -> None:
    ring, other = Keyring.generate(), Keyring.generate()
    digest = ring.content_digest("req_1", "full", SSN)
    assert digest.startswith(ring.active("fingerprint").id + ":")
    assert hashlib.sha256(SSN.encode()).hexdigest() not in digest
    assert digest != other.content_digest("req_1", "full", SSN)
    assert ring.content_digest_matches(digest, "req_1", "full", SSN)
    assert not ring.content_digest_matches(digest, "req_1", "full", "219-09-9998")
    assert not other.content_digest_matches(digest, "req_1", "full", SSN)
    rotated = ring.rotated("fingerprint")
    assert rotated.content_digest_matches(digest, "req_1", "full", SSN)


def test_fingerprints_of_a_value_cover_retired_keys() -> None:
    ring = Keyring.generate()
    old = ring.fingerprint("pii.us_ssn", SSN)
    rotated = ring.rotated("fingerprint")
    every = rotated.fingerprints_of("pii.us_ssn", SSN)
    assert old in every and rotated.fingerprint("pii.us_ssn", SSN) in every
    assert len(every) == 2


def test_a_rotated_ring_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = Keyring.generate().rotated("content")
    write_keyring(path, ring)
    again = load_keyring(path, generate=False)
    assert again.active("content").id == ring.active("content").id
    assert len([k for k in again.keys if k.purpose == "content"]) == 2
