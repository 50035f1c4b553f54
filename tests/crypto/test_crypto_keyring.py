"""The keyring: keyed fingerprints with key ids, rotation, the file on disk."""

from __future__ import annotations

import fcntl
import multiprocessing
import stat
import time
from concurrent.futures import ProcessPoolExecutor
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
    memory = BastionConfig(storage={"url": "sqlite:///file:mem?mode=memory&uri=true"})
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


def test_processes_creating_the_keyring_together_all_use_the_one_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `bastion serve` with server.workers: 2 on a new SQLite store: both workers find no
    # keyring. The one that loses must use the winner's keys, not its own in-memory ring
    # (else its checkpoints are signed by a key the file lacks, and its fingerprints and
    # sealed content are under keys nobody keeps).
    path = tmp_path / "keyring.json"
    winner = Keyring.generate()
    real_generate = Keyring.generate

    def generate_after_the_other_worker() -> Keyring:
        write_keyring(path, winner)  # the other worker got there first
        return real_generate()

    monkeypatch.setattr(Keyring, "generate", staticmethod(generate_after_the_other_worker))
    ring = load_keyring(path, generate=True)
    on_disk = load_keyring(path, generate=False)
    for purpose in ("pseudonym", "fingerprint", "signing", "content"):
        assert ring.active(purpose).id == winner.active(purpose).id
        assert on_disk.active(purpose).id == winner.active(purpose).id
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def _load_signing_key_id(path: str, started: str) -> str:
    Path(started).touch()
    return load_keyring(Path(path), generate=True).active("signing").id


def test_a_worker_upgrading_an_old_keyring_waits_for_the_one_already_upgrading_it(
    tmp_path: Path,
) -> None:
    """A keyring from before signing and content keys, and two workers starting on it:
    each used to add keys of its own and write them over the other's (the loser then
    signs and seals with keys nobody keeps). Here this process is the first worker, in
    the middle of its upgrade (holding the file's lock); the second must wait for it
    and use the keys it wrote."""
    path, started = tmp_path / "keyring.json", tmp_path / "started"
    full = Keyring.generate()
    old = Keyring(
        [full.active("pseudonym"), full.active("fingerprint")],
        {"pseudonym": full.active("pseudonym").id, "fingerprint": full.active("fingerprint").id},
    )
    write_keyring(path, old)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        with open(path, "rb") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            second = pool.submit(_load_signing_key_id, str(path), str(started))
            deadline = time.monotonic() + 30
            while not started.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5)  # the second worker is now reading the keyring
            upgraded = old.with_optional_keys()
            write_keyring(path, upgraded)
        assert second.result(timeout=30) == upgraded.active("signing").id
    finally:
        pool.shutdown()
    assert load_keyring(path, generate=False).active("signing").id == upgraded.active("signing").id
