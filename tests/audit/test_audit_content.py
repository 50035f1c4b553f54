"""Content retention: the mode per app and team, sealing (salted digest, encryption),
bounds, the redacted answer, the bounded writer, and a purge that keeps the chain."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import orjson
import pytest

from bastion.audit.admin_events import ADMIN_WRITER
from bastion.audit.checkpoints import Signer, read_checkpoints
from bastion.audit.content import (
    CallContent,
    ContentSealer,
    RetentionRules,
    check_keys,
    content_reference,
    unrestore,
)
from bastion.audit.log import AuditLog
from bastion.audit.retention import ContentPurger, ContentWriter
from bastion.audit.verify import verify
from bastion.config.schema import AuditContentConfig
from bastion.crypto.content import ContentUnreadable
from bastion.crypto.keyring import Keyring
from bastion.errors import ConfigError
from bastion.model import CallRecord, CallStatus, Principal
from bastion.storage.audit_content import AuditContentRepository, StoredContent
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.database import Database

SSN = "219-09-9999"
EMAIL = "dana.whitfield@northwind-example.com"
CONTENT = CallContent(
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"SSN {SSN}"}]},
    (f"Noted: {SSN}",),
)


def principal(app: str | None = None, team: str | None = None) -> Principal:
    return Principal(key_id="k1", name="n", app=app, team=team)


def test_the_app_mode_wins_over_the_team_mode_over_the_default() -> None:
    rules = RetentionRules(
        AuditContentConfig(
            default="redacted", apps={"billing": "encrypted"}, teams={"research": "full"}
        )
    )
    assert rules.mode_for(principal("billing", "research")) == "encrypted"
    assert rules.mode_for(principal("other", "research")) == "full"
    assert rules.mode_for(principal("other", "other")) == "redacted"
    assert rules.mode_for(None) == "none"
    assert RetentionRules(AuditContentConfig()).mode_for(principal("billing")) == "none"


def test_encrypted_mode_needs_a_content_key() -> None:
    rules = RetentionRules(AuditContentConfig(teams={"research": "encrypted"}))
    ring = Keyring.generate()
    check_keys(rules, ring)
    stripped = Keyring(
        [k for k in ring.keys if k.purpose != "content"],
        {p: ring.active(p).id for p in ("pseudonym", "fingerprint", "signing")},
    )
    with pytest.raises(ConfigError, match="bastion crypto rotate content"):
        check_keys(rules, stripped)
    check_keys(RetentionRules(AuditContentConfig(default="full")), stripped)


def test_plain_content_is_linked_by_a_salted_digest() -> None:
    ring = Keyring.generate()
    stored = ContentSealer(ring).seal(
        "req_1", "full", CONTENT, at=5.0, app="a", team="t", fingerprints=["fp_x:2", "fp_x:1"]
    )
    plain = orjson.dumps(CONTENT.to_json(), option=orjson.OPT_SORT_KEYS)
    assert SSN in stored.payload and stored.key_id is None
    assert hashlib.sha256(plain).hexdigest() not in stored.digest
    assert (
        stored.digest
        != ContentSealer(Keyring.generate()).seal("req_1", "full", CONTENT, at=5.0).digest
    )
    assert stored.fingerprints == ("fp_x:1", "fp_x:2")
    assert content_reference(stored) == {"mode": "full", "digest": stored.digest}
    opened = ContentSealer(ring).open(stored)
    assert opened.intact and opened.document == CONTENT.to_json()


def test_encrypted_content_is_unreadable_without_the_key_and_tamper_evident() -> None:
    ring = Keyring.generate()
    sealer = ContentSealer(ring)
    stored = sealer.seal("req_1", "encrypted", CONTENT, at=5.0)
    assert SSN not in stored.payload and stored.key_id == ring.active("content").id
    assert sealer.open(stored).document == CONTENT.to_json()
    with pytest.raises(ContentUnreadable, match="not in this keyring"):
        ContentSealer(Keyring.generate()).open(stored)
    moved = StoredContent(**{**_fields(stored), "request_id": "req_2"})
    with pytest.raises(ContentUnreadable, match="another record"):
        sealer.open(moved)


def test_edited_plain_content_no_longer_matches_its_digest() -> None:
    sealer = ContentSealer(Keyring.generate())
    stored = sealer.seal("req_1", "redacted", CONTENT, at=5.0)
    edited = StoredContent(
        **{**_fields(stored), "payload": stored.payload.replace("Noted", "Seen")}
    )
    assert not sealer.open(edited).intact


def _fields(stored: StoredContent) -> dict[str, object]:
    return {name: getattr(stored, name) for name in StoredContent.__slots__}


def test_modes_that_keep_nothing_are_refused_by_the_sealer() -> None:
    with pytest.raises(ValueError, match="keeps no content"):
        ContentSealer(Keyring.generate()).seal("r", "none", CONTENT, at=1.0)


REQUEST_BYTES = len(orjson.dumps(CONTENT.request))


@pytest.mark.parametrize(
    ("max_bytes", "request_kept", "answer"),
    [
        (10_000, True, (f"Noted: {SSN}", "second")),
        (REQUEST_BYTES + 11, True, ("Noted: 219-",)),
        (REQUEST_BYTES, True, ()),
        (20, False, ()),
    ],
    ids=["fits", "answer-cut", "answer-dropped", "request-cut"],
)
def test_content_is_bounded_request_first(
    max_bytes: int, request_kept: bool, answer: tuple[str, ...]
) -> None:
    content = CallContent(CONTENT.request, (f"Noted: {SSN}", "second"))
    bounded = content.bounded(max_bytes)
    assert (bounded.request == CONTENT.request) is request_kept
    assert bounded.answer == answer
    assert bounded.truncated is (max_bytes < 10_000)
    request = bounded.request  # cut: the start of its JSON text
    kept = request.encode() if isinstance(request, str) else orjson.dumps(request)
    assert len(kept) + sum(len(t.encode()) for t in bounded.answer) <= max_bytes


def test_the_redacted_answer_puts_placeholders_back() -> None:
    restorations = {"<EMAIL_1a2b3c4d>": EMAIL, "<EMAIL_99>": "ana@x.io", "<US_SSN_5>": ""}
    texts = (f"Write to {EMAIL} and ana@x.io", "nothing here")
    assert unrestore(texts, restorations) == (
        "Write to <EMAIL_1a2b3c4d> and <EMAIL_99>",
        "nothing here",
    )
    assert unrestore(texts, {}) == texts


def test_the_redacted_answer_puts_placeholders_back_where_originals_were_escaped() -> None:
    # tool-call arguments and structured outputs are JSON: an original with a line
    # break or a quote went back escaped, and the redacted copy must not keep it
    address = '221B Baker Street\nLondon "NW1 6XE"'
    restorations = {"<STREET_ADDRESS_1a2b3c4d>": address}
    escaped = json.dumps({"to": address}, ensure_ascii=False)
    prose = f"Ship it to {address}."
    assert unrestore((escaped, prose), restorations) == (
        '{"to": "<STREET_ADDRESS_1a2b3c4d>"}',
        "Ship it to <STREET_ADDRESS_1a2b3c4d>.",
    )


def test_the_writer_drops_past_its_bound_and_counts() -> None:
    class Sink:
        async def insert_many(self, items: object) -> None:
            return None

    writer = ContentWriter(Sink(), max_pending=2)
    item = ContentSealer(Keyring.generate()).seal("r", "full", CONTENT, at=1.0)
    for _ in range(3):
        writer.submit(item)
    assert writer.pending == 2 and writer.dropped == 1


async def test_content_lost_at_shutdown_is_logged_without_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Down:
        async def insert_many(self, items: object) -> None:
            raise RuntimeError(f"insert failed with parameters ({SSN!r}, ...)")

    writer = ContentWriter(Down())
    writer.submit(ContentSealer(Keyring.generate()).seal("r", "full", CONTENT, at=1.0))
    with caplog.at_level("DEBUG"):
        await writer.close()
    assert "1 calls' content not written at shutdown (RuntimeError)" in caplog.text
    assert SSN not in caplog.text


async def test_purging_content_keeps_the_audit_chain_verifiable(
    sqlite_database: Database, tmp_path: Path
) -> None:
    ring = Keyring.generate()
    signer = Signer(ring.active("signing"))
    checkpoints = tmp_path / "checkpoints.jsonl"
    events = AuditEventRepository(sqlite_database)
    log = AuditLog(events, tmp_path / "wal", signer=signer, checkpoint_file=checkpoints)
    await log.start()
    store = AuditContentRepository(sqlite_database)
    sealer = ContentSealer(ring)
    for n in range(3):
        stored = sealer.seal(f"req_{n}", "full", CONTENT, at=100.0 + n)
        await store.insert_many([stored])
        record = CallRecord(
            f"req_{n}",
            100.0 + n,
            "chat.completions",
            principal("helpdesk"),
            "m",
            "m",
            "allow",
            CallStatus.COMPLETED,
            200,
            request_facts={"content": content_reference(stored)},
        )
        await log.intent(record)
        log.submit(record)
    await log.close()

    purger = ContentPurger(
        store,
        sqlite_database,
        retention_days=30,
        admin_chain=events,
        signer=signer,
        checkpoint_file=checkpoints,
        clock=lambda: 101.5 + 30 * 86400,
    )
    result = await purger.purge()
    assert (result.deleted, result.held) == (2, 0)
    assert await store.for_request("req_2") is not None
    assert (await purger.purge()).deleted == 0  # nothing left to purge: no second event
    lines = list(read_checkpoints(checkpoints))
    verification = await verify(events, lines, {signer.key_id: _public(ring)})
    assert verification.ok, verification.problem
    assert verification.records == 3 and verification.heads[ADMIN_WRITER] == 1
    (purge_event,) = await events.events_for("content", "admin")
    body = orjson.loads(purge_event.body)
    assert body["action"] == "content.purge" and body["details"]["deleted"] == 2


def _public(ring: Keyring) -> object:
    from bastion.audit.checkpoints import public_keys

    return public_keys(ring)[ring.active("signing").id]
