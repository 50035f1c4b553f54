"""``RuleStats.top_rules``: how many calls each rule matched, on both backends."""

from __future__ import annotations

from tests.storage.test_storage_call_search import RECORDS

from bastion.storage import CallRecordRepository, Database
from bastion.storage.call_search import CallFilter, CallSearch
from bastion.storage.rule_stats import RuleCount, RuleStats


async def test_rules_by_calls_matched_with_refusals(database: Database) -> None:
    await CallRecordRepository(database).insert_many(RECORDS)
    conditions = CallSearch(database).conditions(CallFilter())
    assert await RuleStats(database).top_rules(conditions) == [
        RuleCount("secrets.block", calls=3, refused=1),
        RuleCount("pii.redact", calls=1, refused=0),
        RuleCount("pii.restricted", calls=1, refused=1),
    ]


async def test_the_limit_and_the_time_range_apply(database: Database) -> None:
    await CallRecordRepository(database).insert_many(RECORDS)
    stats = RuleStats(database)
    everything = CallSearch(database).conditions(CallFilter())
    assert [r.rule for r in await stats.top_rules(everything, limit=1)] == ["secrets.block"]
    late = CallSearch(database).conditions(CallFilter(since=1000.0 + 6 * 60))  # calls 6-8
    assert await stats.top_rules(late) == [
        RuleCount("secrets.block", calls=2, refused=0),
        RuleCount("pii.restricted", calls=1, refused=1),
    ]
