"""``RuleStats.top_rules``: how many calls each rule acted on, on both backends."""

from __future__ import annotations

from dataclasses import replace

from tests.storage.test_storage_call_search import RECORDS
from tests.storage.test_storage_call_search_rules import RECORDS as RULE_RECORDS

from bastion.model import CallStatus
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


async def test_rules_that_acted_on_the_answer_count_with_the_calls_they_refused(
    database: Database,
) -> None:
    blocked_answer = replace(
        RULE_RECORDS[1], status=CallStatus.BLOCKED, http_status=403
    )  # an output rule refused the answer: the request was allowed
    await CallRecordRepository(database).insert_many(
        [RULE_RECORDS[0], blocked_answer, *RULE_RECORDS[2:]]
    )
    conditions = CallSearch(database).conditions(CallFilter())
    counts = {r.rule: r for r in await RuleStats(database).top_rules(conditions)}
    assert counts["answer.secrets"] == RuleCount("answer.secrets", calls=2, refused=1)
    assert counts["tools.no_shell"] == RuleCount("tools.no_shell", calls=2, refused=0)
    assert counts["pii.redact"] == RuleCount("pii.redact", calls=1, refused=0)  # listed once
    assert counts["secrets.block"] == RuleCount("secrets.block", calls=1, refused=1)  # not shadow
