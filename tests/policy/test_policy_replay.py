"""Replaying recorded calls under a candidate policy: changes by app, team and rule;
incomplete where the candidate acts on classes that were not looked for."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from bastion.model import CallRecord, CallStatus, FindingSummary, Principal
from bastion.model.audit import record_from_json, record_to_json
from bastion.model.facts import ClassFact, class_set_digest
from bastion.policy.document import Sensitivity
from bastion.policy.loader import Policy, parse_policy
from bastion.policy.replay import Replay, facts_from_record, needed_classes, replay

CLASSES: dict[str, Sensitivity] = {
    "pii.email": "confidential",
    "pii.person": "confidential",
    "pii.ip_address": "internal",
    "secret.aws_access_key": "restricted",
    "secret.jwt": "restricted",
    "code.python": "confidential",
}
OLD_SET = frozenset(CLASSES) - {"pii.person"}  # the fast tier: names were not looked for
OLD = class_set_digest(OLD_SET)
FULL = class_set_digest(CLASSES)
CLASS_SETS = {OLD: OLD_SET, FULL: frozenset(CLASSES)}

CURRENT = """\
name: p
version: v1
rules:
  - id: mail.redact
    match: {classes: [pii.email]}
    action: redact
    transform: mask
"""
STRICTER = """\
name: p
version: v2
rules:
  - id: mail.redact
    match: {classes: [pii.email]}
    action: redact
    transform: mask
  - id: secrets.block
    match: {classes: ["secret.*"]}
    action: block
"""
NAMES = STRICTER.replace("v2", "v3") + (
    "  - id: names.block\n    match: {classes: [pii.person], app: [crm]}\n    action: block\n"
)

HELPDESK = Principal("k1", "bot", app="helpdesk", team="support", environment="prod")
CRM = Principal("k2", "crm", app="crm", team="sales", environment="prod")


def policy(text: str) -> Policy:
    return parse_policy(text, "candidate.yaml", CLASSES)


def record(
    request_id: str,
    *,
    principal: Principal | None = HELPDESK,
    decision: str = "allow",
    rules: tuple[str, ...] = (),
    findings: tuple[FindingSummary, ...] = (),
    class_set: str | None = FULL,
    **facts: Any,
) -> CallRecord:
    request_facts: dict[str, Any] = {"tools": [], "exception": None, **facts}
    if class_set is not None:
        request_facts["class_set"] = class_set
    return CallRecord(
        request_id=request_id,
        started_at=1_700_000_000.0 + int(request_id.rsplit("_", 1)[-1]),
        endpoint="chat.completions",
        principal=principal,
        model_requested="gpt-4o",
        model_used="gpt-4o" if decision not in ("block", "require_exception") else None,
        decision=decision,
        status=CallStatus.BLOCKED if decision == "block" else CallStatus.COMPLETED,
        http_status=403 if decision == "block" else 200,
        findings=findings,
        rules=rules,
        policy_version="p@v1+000000000000",
        request_facts=request_facts,
    )


EMAIL = FindingSummary("pii.email", "user", "messages.0.content", count=2, score=0.9)
KEY = FindingSummary("secret.aws_access_key", "user", "messages.0.content", score=0.99)
KEY_IN_ANSWER = FindingSummary("secret.aws_access_key", "output", "answer", score=0.99)


def masked(request_id: str, **fields: Any) -> CallRecord:
    return record(
        request_id,
        decision="redact",
        rules=("mail.redact",),
        findings=(EMAIL,),
        redacted={"pii.email": "mask"},
        **fields,
    )


def test_facts_are_rebuilt_from_the_record_without_answer_findings() -> None:
    rec = record("req_1", findings=(EMAIL, KEY_IN_ANSWER), tools=["search"], exception="exc-a")
    facts = facts_from_record(rec)
    assert (facts.principal, facts.endpoint, facts.model) == (
        HELPDESK,
        "chat.completions",
        "gpt-4o",
    )
    assert facts.classes == (ClassFact("pii.email", "user", 0.9, 2),)
    assert (facts.tools, facts.exception_id) == (("search",), "exc-a")


def test_a_dummy_credential_stays_one_through_the_record() -> None:
    dummy = replace(KEY, score=0.9, dummy=True)
    stored_json = orjson.dumps(record_to_json(record("req_1", findings=(KEY, dummy))))
    stored = record_from_json(orjson.loads(stored_json))
    facts = facts_from_record(stored)
    assert facts.classes == (
        ClassFact("secret.aws_access_key", "user", 0.99, 1),
        ClassFact("secret.aws_access_key", "user", 0.9, 1, dummy=True),
    )
    assert "dummy" not in record_to_json(record("req_2", findings=(KEY,)))["findings"][0]


def test_the_same_policy_changes_nothing() -> None:
    records = [masked("req_1"), record("req_2"), masked("req_3", principal=CRM)]
    report = replay(records, policy(CURRENT), CLASS_SETS)
    assert (report.replayed, report.unchanged, report.changed, report.incomplete) == (3, 3, 0, 0)
    assert report.changes == ()


def test_a_stricter_candidate_lists_changes_by_app_team_and_rule() -> None:
    records = [
        record("req_1", findings=(KEY,)),
        record("req_2", findings=(KEY,)),
        record("req_3", findings=(KEY,), principal=CRM),
        masked("req_4"),
        record("req_5", findings=(KEY, EMAIL), decision="redact", rules=("mail.redact",),
               redacted={"pii.email": "mask"}),
    ]  # fmt: skip
    report = replay(records, policy(STRICTER), CLASS_SETS)
    assert (report.replayed, report.unchanged, report.changed) == (5, 1, 4)
    assert report.transitions == {"allow → block": 3, "redact → block": 1}
    groups = [(g.app, g.team, g.rule, g.count, dict(g.transitions)) for g in report.changes]
    assert groups == [
        ("helpdesk", "support", "secrets.block", 3, {"allow → block": 2, "redact → block": 1}),
        ("crm", "sales", "secrets.block", 1, {"allow → block": 1}),
    ]
    assert report.changes[0].examples == ["req_1", "req_2", "req_5"]
    assert report.incomplete == 0


def test_examples_are_capped_per_group() -> None:
    records = [record(f"req_{i}", findings=(KEY,)) for i in range(1, 9)]
    run = Replay(policy(STRICTER), examples=3)
    for rec in records:
        run.add(rec, CLASS_SETS[FULL])
    (group,) = run.report().changes
    assert (group.count, group.examples) == (8, ["req_1", "req_2", "req_3"])


def test_a_loosened_candidate_names_the_rule_that_no_longer_applies() -> None:
    blocked = record("req_1", findings=(KEY,), decision="block", rules=("secrets.block",))
    report = replay([blocked], policy(CURRENT), CLASS_SETS)
    (group,) = report.changes
    assert (group.rule, dict(group.transitions)) == ("secrets.block", {"block → allow": 1})


def test_a_different_transform_is_a_change_of_the_same_action() -> None:
    report = replay([masked("req_1")], policy(CURRENT.replace("mask", "drop")), CLASS_SETS)
    assert report.transitions == {"redact → redact (redactions)": 1}


def test_needing_a_class_that_was_not_looked_for_marks_the_call_incomplete() -> None:
    # req_1 was scanned without the names tagger: the candidate's names rule cannot be
    # judged; req_2 was scanned for names and had none; req_3's app is not in the rule
    # but the class is still needed (the rule could match other calls of the window).
    records = [
        record("req_1", principal=CRM, class_set=OLD),
        record("req_2", principal=CRM, class_set=FULL),
        record("req_3", class_set=OLD, findings=(KEY,)),
    ]
    report = replay(records, policy(NAMES), CLASS_SETS)
    assert (report.replayed, report.changed, report.incomplete) == (3, 1, 2)
    gaps = {(g.app, g.team): g for g in report.incomplete_groups}
    assert set(gaps) == {("crm", "sales"), ("helpdesk", "support")}
    assert dict(gaps["crm", "sales"].missing_classes) == {"pii.person": 1}
    assert (gaps["crm", "sales"].changed, gaps["crm", "sales"].examples) == (0, ["req_1"])
    assert gaps["helpdesk", "support"].changed == 1
    (change,) = report.changes
    assert (change.rule, change.incomplete, change.missing_classes) == (
        "secrets.block",
        1,
        {"pii.person"},
    )


def test_a_class_found_but_monitored_by_the_candidate_is_not_needed() -> None:
    monitored = NAMES + "classes:\n  pii.person: {mode: monitor}\n"
    report = replay([record("req_1", principal=CRM, class_set=OLD)], policy(monitored), CLASS_SETS)
    assert report.incomplete == 0


def test_classes_a_model_may_not_take_are_needed() -> None:
    candidate = policy(
        "name: p\nversion: v1\nmodels:\n  gpt-4o: {max_sensitivity: internal}\nrules: []\n"
    )
    needed = needed_classes(candidate.compiled, CLASSES)
    assert needed == {c for c, s in CLASSES.items() if s != "internal"}
    report = replay([record("req_1", class_set=OLD)], candidate, CLASS_SETS)
    assert dict(report.incomplete_groups[0].missing_classes) == {"pii.person": 1}


@pytest.mark.parametrize(
    "class_set",
    [pytest.param(None, id="not recorded"), pytest.param("f" * 64, id="not in the store")],
)
def test_an_unknown_class_set_marks_the_call_incomplete(class_set: str | None) -> None:
    report = replay([record("req_1", class_set=class_set)], policy(STRICTER), CLASS_SETS)
    assert (report.replayed, report.unchanged, report.incomplete) == (1, 1, 1)
    (gap,) = report.incomplete_groups
    assert (gap.unknown_class_set, dict(gap.missing_classes)) == (1, {})


def test_a_candidate_that_acts_on_no_class_needs_no_class_set() -> None:
    candidate = policy("name: p\nversion: v1\nrules:\n  - {id: all, action: allow}\n")
    report = replay([record("req_1", class_set=None)], candidate, CLASS_SETS)
    assert report.incomplete == 1  # unknown set: still not knowable what was looked for
    report = replay([record("req_1", class_set=OLD)], candidate, CLASS_SETS)
    assert report.incomplete == 0


def test_records_that_were_not_decided_are_skipped() -> None:
    records = [
        record("req_1", decision="none"),
        record("req_2", decision="scan"),
        record("req_3", principal=None),
        replace(record("req_4"), model_requested=None),
        record("req_5"),
    ]
    report = replay(records, policy(STRICTER), CLASS_SETS)
    assert (report.records, report.replayed) == (5, 1)
    assert report.skipped == {"no model": 1, "no principal": 1, "not decided": 2}


STATIC = STRICTER.replace("v2", "v4") + (
    "exceptions:\n"
    "  - id: helpdesk-keys\n    rule: secrets.block\n    scope: {app: helpdesk}\n"
    "    expires: 2023-11-20T00:00:00Z\n    justification: rotation\n    owner: ops\n"
)


def test_static_exceptions_apply_as_of_the_recorded_time() -> None:
    before = 1_700_000_000.0  # 2023-11-14, before the exception expires
    rec = replace(record("req_1", findings=(KEY,)), started_at=before)
    assert replay([rec], policy(STATIC), CLASS_SETS).changed == 0
    later = replace(rec, started_at=before + 30 * 86400)
    assert replay([later], policy(STATIC), CLASS_SETS).transitions == {"allow → block": 1}
    assert replay([rec], policy(STATIC), CLASS_SETS, now=before + 30 * 86400).changed == 1


def test_a_dynamic_exception_the_facts_do_not_carry_marks_the_call_incomplete() -> None:
    # The call named a store exception that waived secrets.block; replay cannot see it,
    # so it decides the call as unnamed and says the result is incomplete.
    rec = record("req_1", findings=(KEY,), exception="exc_0123456789abcdef")
    report = replay([rec], policy(STRICTER), CLASS_SETS)
    assert report.transitions == {"allow → block": 1}
    (gap,) = report.incomplete_groups
    assert gap.unknown_exceptions == {"exc_0123456789abcdef"}
    assert report.changes[0].incomplete == 1


def test_report_json_shape() -> None:
    records = [record("req_1", findings=(KEY,), class_set=OLD), record("req_2")]
    data = replay(records, policy(NAMES), CLASS_SETS).to_json()
    assert data["candidate"].startswith("p@v3+")
    assert {k: data[k] for k in ("records", "replayed", "unchanged", "changed", "incomplete")} == {
        "records": 2,
        "replayed": 2,
        "unchanged": 1,
        "changed": 1,
        "incomplete": 1,
    }
    assert data["changes"] == [
        {
            "app": "helpdesk",
            "team": "support",
            "rule": "secrets.block",
            "calls": 1,
            "transitions": {"allow → block": 1},
            "examples": ["req_1"],
            "incomplete": 1,
            "missing_classes": ["pii.person"],
        }
    ]
    assert data["incomplete_groups"][0]["missing_classes"] == {"pii.person": 1}
