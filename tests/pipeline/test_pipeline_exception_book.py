"""ExceptionBook: what the gateway hands the policy, reloads on change, uses, a failing store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bastion.errors import StorageError
from bastion.identity.changes import PollingChangeNotifier
from bastion.model import Action, Principal
from bastion.model.exceptions import ExceptionState
from bastion.model.facts import CallFacts, ClassFact
from bastion.pipeline.exception_book import ExceptionBook
from bastion.policy.loader import parse_policy
from bastion.storage import ChangeFeed, Database, ExceptionRepository, StoredException

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stored(
    exc_id: str,
    state: ExceptionState = ExceptionState.APPROVED,
    *,
    scope: tuple[tuple[str, str], ...] = (("app", "helpdesk"),),
    rule: str = "secrets.block",
    expires_at: datetime = NOW + timedelta(days=30),
) -> StoredException:
    return StoredException(
        id=exc_id,
        rule=rule,
        scope=scope,
        state=state,
        expires_at=expires_at,
        justification="j",
        owner="ana",
        requester="ana",
        created_at=NOW,
        updated_at=NOW,
    )


class FakeSource:
    def __init__(self, *exceptions: StoredException) -> None:
        self.exceptions = list(exceptions)
        self.failing = False
        self.since: list[datetime] = []
        self.uses: dict[str, int] = {}

    async def list_current(self, since: datetime) -> list[StoredException]:
        if self.failing:
            raise StorageError("database exception list failed")
        self.since.append(since)
        return list(self.exceptions)

    async def record_uses(self, counts: Mapping[str, int], at: datetime | None = None) -> int:
        if self.failing:
            raise StorageError("database exception use count failed")
        for exc_id, n in counts.items():
            self.uses[exc_id] = self.uses.get(exc_id, 0) + n
        return len(counts)


def caller(**fields: Any) -> Principal:
    return Principal(**{"key_id": "k1", "name": "bot", **fields})


def book_of(source: FakeSource, **options: Any) -> ExceptionBook:
    return ExceptionBook(source, wall_clock=lambda: NOW.timestamp(), **options)


async def test_for_principal_returns_approved_exceptions_whose_whole_scope_matches() -> None:
    source = FakeSource(
        stored("exc_app"),
        stored("exc_team", scope=(("app", "helpdesk"), ("team", "support"))),
        stored("exc_user", scope=(("user", "bo"),)),
        stored("exc_key", scope=(("key_id", "k1"),)),
        stored("exc_pending", ExceptionState.REQUESTED),
        stored("exc_revoked", ExceptionState.REVOKED),
        stored("exc_old", expires_at=NOW - timedelta(days=1)),
    )
    book = book_of(source)
    await book.refresh()
    ids = {e.id for e in book.for_principal(caller(app="helpdesk", team="support"))}
    assert ids == {"exc_app", "exc_team", "exc_key"}
    assert {e.id for e in book.for_principal(caller(app="helpdesk", key_id="k2"))} == {"exc_app"}
    assert {e.id for e in book.for_principal(caller(key_id="k9", user="bo"))} == {"exc_user"}
    assert book.for_principal(caller(key_id="k9", app="billing")) == ()


async def test_named_exceptions_are_found_in_any_recent_state() -> None:
    source = FakeSource(
        stored("exc_live"),
        stored("exc_revoked", ExceptionState.REVOKED),
        stored("exc_old", expires_at=NOW - timedelta(days=1)),
        stored("exc_lapsed", ExceptionState.REQUESTED, expires_at=NOW - timedelta(days=1)),
    )
    book = book_of(source)
    await book.refresh()
    now = NOW.timestamp()
    revoked, old, lapsed = book.get("exc_revoked"), book.get("exc_old"), book.get("exc_lapsed")
    assert revoked is not None and revoked.state_at(now) is ExceptionState.REVOKED
    assert old is not None and old.state_at(now) is ExceptionState.EXPIRED
    assert lapsed is not None and lapsed.state_at(now) is ExceptionState.EXPIRED
    assert book.get("exc_unknown") is None
    assert source.since == [NOW - timedelta(days=30)]

    helpdesk = caller(app="helpdesk")
    assert [e.id for e in book.for_call(helpdesk, "exc_revoked")] == ["exc_live", "exc_revoked"]
    assert [e.id for e in book.for_call(helpdesk, "exc_live")] == ["exc_live"]
    assert [e.id for e in book.for_call(helpdesk, "exc_unknown")] == ["exc_live"]


POLICY = """\
name: t
version: v1
models:
  gpt-4o-mini: {max_sensitivity: restricted}
rules:
  - id: secrets.review
    match: {classes: ["secret.*"]}
    action: require_exception
"""


@pytest.mark.parametrize(
    ("named", "action", "code", "state"),
    [
        (None, Action.ALLOW, None, None),
        ("exc_live", Action.ALLOW, None, None),
        ("exc_revoked", Action.REQUIRE_EXCEPTION, "exception_required", "revoked"),
        ("exc_old", Action.REQUIRE_EXCEPTION, "exception_required", "expired"),
        ("exc_other_app", Action.BLOCK, "exception_invalid", None),
    ],
)
async def test_what_the_book_hands_the_policy_decides_as_the_contract_says(
    named: str | None, action: Action, code: str | None, state: str | None
) -> None:
    rule = "secrets.review"
    source = FakeSource(
        stored("exc_live", rule=rule),
        stored("exc_revoked", ExceptionState.REVOKED, rule=rule),
        stored("exc_old", rule=rule, expires_at=NOW - timedelta(hours=1)),
        stored("exc_other_app", rule=rule, scope=(("app", "billing"),)),
    )
    if named in ("exc_revoked", "exc_old"):
        source.exceptions.pop(0)  # no live exception: the named one decides
    book = book_of(source)
    await book.refresh()
    policy = parse_policy(POLICY, "p.yaml", {"secret.github_token": "restricted"})
    principal = caller(app="helpdesk")
    facts = CallFacts(
        principal,
        "chat.completions",
        "gpt-4o-mini",
        (ClassFact("secret.github_token", "user", 1.0),),
        exception_id=named,
    )
    decision = policy.decide(facts, book.for_call(principal, named), now=NOW.timestamp())
    assert (decision.action, decision.code, decision.exception_state) == (action, code, state)
    if action is Action.ALLOW:
        assert decision.exception_id == "exc_live"


async def test_a_change_notification_reloads_the_book(sqlite_database: Database) -> None:
    repo = ExceptionRepository(sqlite_database)
    notifier = PollingChangeNotifier(ChangeFeed(sqlite_database), interval_s=3600)
    book = ExceptionBook(repo)
    book.subscribe_to(notifier)
    await notifier.start()
    try:
        await book.start()
        assert book.loaded
        helpdesk = caller(app="helpdesk")
        requested = await repo.request(
            rule="secrets.block",
            scope={"app": "helpdesk"},
            justification="j",
            expires_at=datetime.now(UTC) + timedelta(days=1),
            requester="ana",
        )
        await repo.approve(requested.id, approver="sec-lead")
        assert book.for_principal(helpdesk) == ()  # not yet notified
        assert await notifier.poll_once() == {"exceptions"}
        assert [e.id for e in book.for_principal(helpdesk)] == [requested.id]

        await repo.revoke(requested.id, decided_by="sec-lead")
        await notifier.poll_once()
        assert book.for_principal(helpdesk) == ()
        named = book.get(requested.id)
        assert named is not None and named.state is ExceptionState.REVOKED
    finally:
        await book.close()
        await notifier.close()


async def test_uses_are_counted_in_memory_and_written_back(sqlite_database: Database) -> None:
    repo = ExceptionRepository(sqlite_database)
    requested = await repo.request(
        rule="secrets.block",
        scope={"app": "helpdesk"},
        justification="j",
        expires_at=datetime.now(UTC) + timedelta(days=1),
        requester="ana",
    )
    await repo.approve(requested.id, approver="sec-lead")
    book = ExceptionBook(repo)
    await book.refresh()
    for _ in range(3):
        book.note_use(requested.id)
    book.note_use("exc-static-from-the-policy-file")
    await book.tick()
    book.note_use(requested.id)
    await book.close()
    counted = await repo.get(requested.id)
    assert counted is not None and counted.uses == 4 and counted.last_used_at is not None


async def test_uses_survive_a_failing_store_until_it_is_back() -> None:
    source = FakeSource(stored("exc_app"))
    book = book_of(source)
    await book.refresh()
    book.note_use("exc_app")
    source.failing = True
    await book.flush_uses()
    source.failing = False
    book.note_use("exc_app")
    await book.flush_uses()
    assert source.uses == {"exc_app": 2}


async def test_a_failing_store_keeps_the_copy_then_stops_applying_exceptions() -> None:
    clock = [0.0]
    source = FakeSource(stored("exc_app"), stored("exc_revoked", ExceptionState.REVOKED))
    book = book_of(source, max_stale_s=120.0, clock=lambda: clock[0])
    await book.refresh()
    helpdesk = caller(app="helpdesk")
    source.failing = True
    clock[0] = 60.0
    await book.tick()
    assert [e.id for e in book.for_principal(helpdesk)] == ["exc_app"]
    clock[0] = 121.0
    await book.tick()
    assert book.for_principal(helpdesk) == ()
    assert book.get("exc_revoked") is not None  # callers naming one still learn its state
    source.failing = False
    await book.tick()
    assert [e.id for e in book.for_principal(helpdesk)] == ["exc_app"]


async def test_a_stale_book_does_not_apply_an_approved_exception_the_call_names() -> None:
    """Naming an approved exception must not bring it back while the store is out of
    sight: it could have been revoked meanwhile."""
    clock = [0.0]
    source = FakeSource(stored("exc_app", rule="secrets.review"))
    book = book_of(source, max_stale_s=120.0, clock=lambda: clock[0])
    await book.refresh()
    source.failing = True
    clock[0] = 121.0
    await book.tick()
    policy = parse_policy(POLICY, "p.yaml", {"secret.github_token": "restricted"})
    principal = caller(app="helpdesk")
    facts = CallFacts(
        principal,
        "chat.completions",
        "gpt-4o-mini",
        (ClassFact("secret.github_token", "user", 1.0),),
        exception_id="exc_app",
    )
    decision = policy.decide(facts, book.for_call(principal, "exc_app"), now=NOW.timestamp())
    assert decision.action is Action.REQUIRE_EXCEPTION and decision.exception_id is None
    assert decision.code == "exception_required"  # it exists and covers the caller
    source.failing = False
    await book.tick()
    again = policy.decide(facts, book.for_call(principal, "exc_app"), now=NOW.timestamp())
    assert again.action is Action.ALLOW and again.exception_id == "exc_app"


async def test_a_store_down_at_start_leaves_an_empty_book_that_fills_later() -> None:
    source = FakeSource(stored("exc_app"))
    source.failing = True
    book = book_of(source, refresh_interval_s=3600)
    await book.start()
    try:
        assert not book.loaded and book.for_principal(caller(app="helpdesk")) == ()
        source.failing = False
        await book.tick()
        assert book.loaded and len(book.for_principal(caller(app="helpdesk"))) == 1
    finally:
        await book.close()
