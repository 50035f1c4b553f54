"""Audit search, overview aggregates and usage sums on SQLite and PostgreSQL: the same
records give the same answers on both backends (the JSON lookups differ per dialect)."""

# ruff: noqa: E501 -- one record per line

from __future__ import annotations

from dataclasses import replace

import pytest

from bastion.model import CallRecord, CallStatus, FindingSummary, Principal
from bastion.model.spend import PICO_USD, SpendEntry
from bastion.storage import CallRecordRepository, Database, SpendLedgerRepository
from bastion.storage.call_search import CallFilter, CallSearch
from bastion.storage.call_stats import CallStats, percentile_ms
from bastion.storage.spend_usage import Owned, SpendUsage


def principal(team: str, app: str, owner: str | None = None, env: str = "prod") -> Principal:
    return Principal(
        key_id=f"k_{app}", name=app, user=f"u_{team}", app=app, team=team,
        environment=env, owner=owner,
    )  # fmt: skip


def record(
    n: int,
    who: Principal,
    decision: str = "allow",
    *,
    classes: tuple[tuple[str, str, int], ...] = (),
    rules: tuple[str, ...] = (),
    facts: dict[str, object] | None = None,
    gateway_ms: float = 1.0,
    model: str = "gpt-4o-mini",
) -> CallRecord:
    refused = decision in ("block", "require_exception")
    return CallRecord(
        request_id=f"req_{n:03d}",
        started_at=1000.0 + n * 60,
        endpoint="chat.completions",
        principal=who,
        model_requested=model,
        model_used=model,
        decision=decision,
        status=CallStatus.BLOCKED if refused else CallStatus.COMPLETED,
        http_status=403 if refused else 200,
        gateway_ms=gateway_ms,
        findings=tuple(FindingSummary(c, source, "messages.0.content", count) for c, source, count in classes),
        rules=rules,
        request_facts=facts or {},
    )  # fmt: skip


FIN = principal("fin", "shop", owner="alice")
SALES = principal("sales", "crm", owner="bob", env="dev")
RECORDS = [
    record(0, FIN),
    record(1, FIN, "redact", classes=(("pii.email", "user", 2),), rules=("pii.redact",)),
    record(2, FIN, "block", classes=(("secret.aws_access_key", "user", 1),), rules=("secrets.block",)),
    record(3, SALES, "allow", classes=(("injection.direct", "user", 1),), gateway_ms=3.0),
    record(4, SALES, "allow", classes=(("injection.indirect", "retrieved", 2), ("pii.email", "retrieved", 1)), gateway_ms=5.0),
    record(5, SALES, "reroute", facts={"route": "internal", "redacted": {"pii.email": "mask"}}, model="gpt-4o"),
    record(6, FIN, "allow", rules=("secrets.block",), facts={"exception_applied": "exc_a"}),
    record(7, FIN, "allow", rules=("secrets.block",), facts={"exception_applied": "exc_b"}),
    record(8, SALES, "require_exception", rules=("pii.restricted",)),
]  # fmt: skip


@pytest.fixture
async def stored(database: Database) -> Database:
    await CallRecordRepository(database).insert_many(RECORDS)
    return database


async def ids(database: Database, where: CallFilter, limit: int = 100) -> list[str]:
    page = await CallSearch(database).page(where, limit=limit)
    return [r.request_id for r in page.records]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param(CallFilter(), [8, 7, 6, 5, 4, 3, 2, 1, 0], id="all-newest-first"),
        pytest.param(CallFilter(team="fin"), [7, 6, 2, 1, 0], id="team"),
        pytest.param(
            CallFilter(environment="dev", decision="allow"), [4, 3], id="env-and-decision"
        ),
        pytest.param(CallFilter(rule="secrets.block"), [7, 6, 2], id="rule"),
        pytest.param(CallFilter(data_class="pii.email"), [4, 1], id="class"),
        pytest.param(CallFilter(data_class="injection.*"), [4, 3], id="class-family"),
        pytest.param(CallFilter(data_class="pii.*", team="sales"), [4], id="family-and-team"),
        pytest.param(CallFilter(model="gpt-4o"), [5], id="model"),
        pytest.param(CallFilter(since=1000.0 + 2 * 60, until=1000.0 + 4 * 60), [3, 2], id="range"),
        pytest.param(CallFilter(owner="bob", status="completed"), [5, 4, 3], id="owner-status"),
        pytest.param(CallFilter(rule="secrets"), [], id="rule-is-exact"),
        pytest.param(CallFilter(data_class="pii_*"), [], id="no-wildcards-but-family"),
    ],
)
async def test_search_filters(stored: Database, where: CallFilter, expected: list[int]) -> None:
    assert await ids(stored, where) == [f"req_{n:03d}" for n in expected]


async def test_pages_follow_each_other_without_gaps_or_repeats(stored: Database) -> None:
    search = CallSearch(stored)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await search.page(CallFilter(), limit=4, after=after)
        seen += [r.request_id for r in page.records]
        if page.after is None:
            break
        after = page.after
    assert seen == [f"req_{n:03d}" for n in range(8, -1, -1)]


async def test_ties_on_started_at_page_by_request_id(database: Database) -> None:
    same = [replace(record(n, FIN), started_at=5000.0) for n in range(5)]
    await CallRecordRepository(database).insert_many(same)
    search = CallSearch(database)
    first = await search.page(CallFilter(), limit=3)
    second = await search.page(CallFilter(), limit=3, after=first.after)
    got = [r.request_id for r in (*first.records, *second.records)]
    assert got == [f"req_{n:03d}" for n in (4, 3, 2, 1, 0)] and second.after is None


async def test_calls_over_time_by_environment(stored: Database) -> None:
    stats = CallStats(stored)
    conditions = CallSearch(stored).conditions(CallFilter())
    buckets = await stats.calls_over_time(conditions, since=1000.0, bucket_s=240.0)
    got = {(b.start, b.environment): (b.calls, b.blocked, b.redacted) for b in buckets}
    assert got == {
        (1000.0, "prod"): (3, 1, 1),  # records 0, 1, 2
        (1000.0, "dev"): (1, 0, 0),  # record 3
        (1240.0, "dev"): (2, 0, 1),  # 4, 5 (a reroute that also redacted)
        (1240.0, "prod"): (2, 0, 0),  # 6, 7
        (1480.0, "dev"): (1, 1, 0),  # 8 (require_exception refuses)
    }
    assert await stats.decisions(conditions) == {
        "allow": 5, "redact": 1, "block": 1, "reroute": 1, "require_exception": 1,
    }  # fmt: skip


async def test_injections_by_class_and_source(stored: Database) -> None:
    conditions = CallSearch(stored).conditions(CallFilter())
    found = await CallStats(stored).injections(conditions)
    assert [(i.data_class, i.source, i.detections, i.calls) for i in found] == [
        ("injection.direct", "user", 1, 1),
        ("injection.indirect", "retrieved", 2, 1),
    ]


async def test_exception_uses_by_app_owner(stored: Database) -> None:
    conditions = CallSearch(stored).conditions(CallFilter())
    found = await CallStats(stored).exception_uses(conditions)
    assert [(u.owner, u.calls, u.exceptions) for u in found] == [("alice", 2, 2)]


async def test_overhead_histogram_percentiles(stored: Database) -> None:
    conditions = CallSearch(stored).conditions(CallFilter())
    histogram = await CallStats(stored).overhead_histogram(conditions)
    assert sum(histogram) == len(RECORDS)
    median = percentile_ms(histogram, 0.5)
    top = percentile_ms(histogram, 1.0)
    assert median is not None and 0.8 <= median <= 1.2  # 7 of 9 calls took 1 ms
    assert top is not None and 4.0 <= top <= 6.0  # the slowest took 5 ms
    assert percentile_ms([0] * len(histogram), 0.5) is None


def spend(key: str, app: str | None, team: str, cost_usd: float, at: float = 100.0) -> SpendEntry:
    return SpendEntry(
        settled_at=at, key_id=key, user=None, app=app, team=team, environment="prod",
        model="gpt-4o-mini", prompt_tokens=10, completion_tokens=5,
        cost_pusd=round(cost_usd * PICO_USD),
    )  # fmt: skip


async def test_usage_groups_and_an_owners_view(database: Database) -> None:
    await SpendLedgerRepository(database).insert_many(
        [
            spend("k_shop", "shop", "fin", 1.5),
            spend("k_shop", "shop", "fin", 0.5),
            spend("k_crm", "crm", "sales", 3.0),
            spend("k_other", "shop", "fin", 0.25),  # another key of alice's app
            spend("k_old", "shop", "fin", 9.0, at=10.0),  # before the range
        ]
    )
    usage = SpendUsage(database)
    by_team = await usage.grouped(since=50.0, until=None, group_by=["team"])
    assert [(g.values, g.calls, g.cost_pusd / PICO_USD) for g in by_team] == [
        ({"team": "sales"}, 1, 3.0),
        ({"team": "fin"}, 3, 2.25),
    ]
    mine = Owned(key_ids={"k_shop"}, apps={"shop"})
    owned = await usage.grouped(since=50.0, until=None, group_by=["key_id"], owned=mine)
    assert {g.values["key_id"]: g.calls for g in owned} == {"k_shop": 2, "k_other": 1}
    nothing = Owned(key_ids=set(), apps=set())
    assert await usage.grouped(since=0.0, until=None, group_by=["team"], owned=nothing) == []
    filtered = await usage.grouped(
        since=0.0, until=None, group_by=["app", "team"], filters={"team": "fin"}
    )
    assert [(g.values, g.prompt_tokens) for g in filtered] == [({"app": "shop", "team": "fin"}, 40)]
