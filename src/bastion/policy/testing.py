"""Running a policy's test cases (``bastion policy test``, STYLE.md 17).

Cases come from the policy's ``tests:`` and from ``<stem>.tests.yaml`` beside the file
(a mapping with one key, ``tests:``, holding cases of the same shape). Each case is
turned into ``CallFacts`` by a function the caller passes (canned findings here; a raw
request through the real detectors in the CLI), decided, and compared with what it
expects. The run reports rules no case reached: a rule counts as reached when a case's
trace shows it matching or waived, or the decision names it (shadow rules too).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.config.diagnostics import config_error_from_validation
from bastion.config.layers import Origin
from bastion.config.yaml_lines import KeyPath, dotted, load_lined_yaml
from bastion.errors import ConfigError
from bastion.model import Decision, Principal
from bastion.model.decision import Action
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.compiler import (
    MODEL_DENY_CLASSES,
    MODEL_MAX_SENSITIVITY,
    MODEL_UNAPPROVED,
    PRINCIPAL_DIMENSIONS,
)
from bastion.policy.document import PolicyDocument, PolicyTest
from bastion.policy.evaluate import Step
from bastion.policy.loader import POLICY_SECTIONS, Policy

PRINCIPAL_FIELDS = (*PRINCIPAL_DIMENSIONS, "roles")
DEFAULT_PRINCIPAL: Mapping[str, str] = {
    "key_id": "test",
    "name": "policy-test",
    "environment": "dev",
}
NONE = "none"
"""Expected value meaning "there is none" (for code, shadow_decision and exception)."""
_SET_FIELDS = ("rules", "redacted", "tools_stripped")
_REFUSAL_CODES = {Action.BLOCK: "policy_violation", Action.REQUIRE_EXCEPTION: "exception_required"}

FactsOf = Callable[[PolicyTest], CallFacts]
"""Turns a case into the facts of its call; raises ``CaseError`` for a case it cannot."""


class CaseError(ValueError):
    """A case that cannot be turned into a call (bad request body, unknown field, ...)."""


class CaseFile(BaseModel):
    """``<stem>.tests.yaml``: cases kept beside the policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tests: list[PolicyTest] = Field(description="Cases `bastion policy test` runs.")


@dataclass(frozen=True, slots=True)
class Case:
    """One case and where it is written (``file:line``)."""

    test: PolicyTest
    source: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One expected field that came out differently."""

    field: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        text = f"{self.field}: expected {_show(self.expected)}, got {_show(self.actual)}"
        if self.field in _SET_FIELDS:
            missing = sorted(set(self.expected) - set(self.actual))
            extra = sorted(set(self.actual) - set(self.expected))
            parts = [f"missing {', '.join(missing)}" if missing else ""]
            parts.append(f"unexpected {', '.join(extra)}" if extra else "")
            text += f" ({'; '.join(p for p in parts if p)})"
        return text


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What one case did: its actual outcome, what differed, or why it could not run."""

    name: str
    source: str
    actual: dict[str, Any] = field(default_factory=dict)
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None
    steps: tuple[Step, ...] = ()

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches

    def failure_text(self) -> str:
        """Why the case failed, one line per difference (empty when it passed)."""
        if self.error is not None:
            return f"error: {self.error}"
        return "\n".join(m.describe() for m in self.mismatches)


@dataclass(frozen=True, slots=True)
class RunReport:
    """A whole run: the results in order and what the cases reached."""

    policy: str
    results: tuple[CaseResult, ...]
    rules: tuple[str, ...]
    """The policy's rules, plus ``model.unapproved`` when it lists approved models."""
    checks: tuple[str, ...]
    """Built-in safety checks the policy switches on (``model.max_sensitivity``, ...);
    reported, but they may be unreachable when rules before them redact or block."""
    reached: frozenset[str]

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def unreached(self) -> tuple[str, ...]:
        return tuple(r for r in self.rules if r not in self.reached)

    @property
    def unreached_checks(self) -> tuple[str, ...]:
        return tuple(c for c in self.checks if c not in self.reached)

    @property
    def ok(self) -> bool:
        """At least one case ran and none failed."""
        return bool(self.results) and not self.failed

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "ok": self.ok,
            "cases": len(self.results),
            "passed": len(self.results) - len(self.failed),
            "failed": len(self.failed),
            "results": [
                {
                    "name": r.name,
                    "source": r.source,
                    "passed": r.passed,
                    "error": r.error,
                    "actual": r.actual,
                    "mismatches": [
                        {"field": m.field, "expected": m.expected, "actual": m.actual}
                        for m in r.mismatches
                    ],
                }
                for r in self.results
            ],
            "rules_not_reached": list(self.unreached),
            "checks_not_reached": list(self.unreached_checks),
        }


# -- reading cases -------------------------------------------------------------------


def sidecar_path(policy_path: Path) -> Path:
    """``<stem>.tests.yaml`` beside the policy file."""
    return policy_path.with_name(f"{policy_path.stem}.tests.yaml")


def load_cases(
    policy_path: Path, document: PolicyDocument, known_classes: Collection[str] = ()
) -> list[Case]:
    """The policy's inline cases, then those of its ``<stem>.tests.yaml`` if present.

    Raises ``ConfigError`` naming ``file:line`` and the key for a malformed case, an
    unknown principal field or (when ``known_classes`` is given) an unknown class.
    """
    cases: list[Case] = []
    if document.tests:
        cases += inline_cases(_read(policy_path), str(policy_path), document, known_classes)
    sidecar = sidecar_path(policy_path)
    if sidecar.is_file():
        cases += load_case_file(sidecar, known_classes)
    return cases


def inline_cases(
    text: str, source: str, document: PolicyDocument, known_classes: Collection[str] = ()
) -> list[Case]:
    """The ``tests:`` of a policy given as ``text`` (parsed into ``document``), placed
    at ``source:line`` (an uploaded policy has no file beside it)."""
    if not document.tests:
        return []
    lines = load_lined_yaml(text, source, sections=POLICY_SECTIONS).lines
    return _checked(document.tests, source, lines, known_classes)


def load_case_file(path: Path, known_classes: Collection[str] = ()) -> list[Case]:
    """The cases of a ``tests:`` file (``<stem>.tests.yaml``)."""
    return case_file_cases(_read(path), str(path), known_classes)


def case_file_cases(text: str, source: str, known_classes: Collection[str] = ()) -> list[Case]:
    """The cases of a ``tests:`` file's ``text`` (named ``source`` in errors)."""
    lined = load_lined_yaml(text, source, sections="tests:")
    origins = {key: Origin("file", source, line) for key, line in lined.lines.items()}
    try:
        parsed = CaseFile.model_validate(lined.data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, CaseFile, origins, source) from exc
    return _checked(parsed.tests, source, lined.lines, known_classes)


def _checked(
    tests: Sequence[PolicyTest],
    source: str,
    lines: Mapping[KeyPath, int],
    known_classes: Collection[str],
) -> list[Case]:
    cases = []
    for index, test in enumerate(tests):
        base: KeyPath = ("tests", index)
        for key, value in test.principal.items():
            where = (*base, "principal", key)
            if key not in PRINCIPAL_FIELDS:
                _fail(source, lines, where, f"unknown principal field (one of: {_FIELDS})")
            if key != "roles" and not isinstance(value, str):
                _fail(source, lines, where, "expected a string (only roles is a list)")
        for number, finding in enumerate(test.findings or ()):
            if known_classes and finding.class_ not in known_classes:
                where = (*base, "findings", number, "class")
                _fail(source, lines, where, f"no data class {finding.class_!r}")
        cases.append(Case(test, f"{source}:{_line(lines, base)}"))
    return cases


_FIELDS = ", ".join(PRINCIPAL_FIELDS)


def _fail(source: str, lines: Mapping[KeyPath, int], where: KeyPath, message: str) -> None:
    raise ConfigError(f"{source}:{_line(lines, where)}: {dotted(where)}: {message}")


def _line(lines: Mapping[KeyPath, int], where: KeyPath) -> int:
    for cut in range(len(where), -1, -1):
        line = lines.get(where[:cut])
        if line is not None:
            return line
    return 1


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


# -- turning a case into facts -------------------------------------------------------


def principal_of(fields: Mapping[str, str | Sequence[str]]) -> Principal:
    """A principal from case fields; key_id, name and environment have test defaults."""
    values: dict[str, Any] = dict(DEFAULT_PRINCIPAL)
    for key, value in fields.items():
        if key not in PRINCIPAL_FIELDS:
            raise CaseError(f"principal: unknown field {key!r} (one of: {_FIELDS})")
        if key == "roles":
            values[key] = (value,) if isinstance(value, str) else tuple(value)
        elif isinstance(value, str):
            values[key] = value
        else:
            raise CaseError(f"principal.{key}: expected a string")
    try:
        return Principal(**values)
    except ValueError as exc:
        raise CaseError(f"principal: {exc}") from exc


def facts_from_findings(test: PolicyTest) -> CallFacts:
    """The facts of a case that gives canned ``findings`` and a ``model``."""
    if test.findings is None or test.model is None:
        raise CaseError("this case gives a request, not findings")
    return CallFacts(
        principal=principal_of(test.principal),
        endpoint=test.endpoint,
        model=test.model,
        classes=tuple(
            ClassFact(f.class_, f.where, f.score, f.count, f.dummy) for f in test.findings
        ),
        tools=tuple(test.tools),
        exception_id=test.exception,
    )


def moment(value: datetime | None, default: float) -> float:
    """A case's ``at`` as a Unix time (a time without zone is UTC)."""
    if value is None:
        return default
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# -- running -------------------------------------------------------------------------


def run_cases(
    policy: Policy, cases: Iterable[Case], facts_of: FactsOf, now: float | None = None
) -> RunReport:
    """Decide every case and compare with its expectation (``now``: default case time)."""
    default = time.time() if now is None else now
    results = []
    reached: set[str] = set()
    for case in cases:
        results.append(_run_case(policy, case, facts_of, default, reached))
    rules, checks = coverage_targets(policy)
    return RunReport(policy.version, tuple(results), rules, checks, frozenset(reached))


def coverage_targets(policy: Policy) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(rules every policy test should reach, built-in checks reported on the side)."""
    compiled = policy.compiled
    rules = [rule.id for rule in compiled.rules]
    checks = []
    if compiled.approved is not None:
        rules.append(MODEL_UNAPPROVED)
        if any(limit != "restricted" for limit, _ in compiled.approved.values()):
            checks.append(MODEL_MAX_SENSITIVITY)
        if any(denied for _, denied in compiled.approved.values()):
            checks.append(MODEL_DENY_CLASSES)
    return tuple(rules), tuple(checks)


def _run_case(
    policy: Policy, case: Case, facts_of: FactsOf, default: float, reached: set[str]
) -> CaseResult:
    test = case.test
    try:
        facts = facts_of(test)
    except CaseError as exc:
        return CaseResult(test.name, case.source, error=str(exc))
    trace: list[Step] = []
    decision = policy.decide(facts, (), moment(test.at, default), trace)
    reached.update(s.rule for s in trace if s.outcome != "no match" and s.rule != "-")
    reached.update(decision.rules)
    reached.update(decision.shadow_rules)
    actual = outcome(decision, facts, test.expect.output or ())
    return CaseResult(
        test.name, case.source, actual, tuple(compare(test, actual)), steps=tuple(trace)
    )


def outcome(
    decision: Decision, facts: CallFacts, output_classes: Iterable[str] = ()
) -> dict[str, Any]:
    """A decision in the terms of a case's ``expect`` (``output_classes``: the answer
    classes whose treatment to report)."""
    plan, tools = decision.output, decision.tools
    output = {}
    for data_class in output_classes:
        action = plan.action_for(data_class) if plan is not None else None
        output[data_class] = action.action if action is not None else "allow"
    return {
        "decision": decision.action.value,
        "rules": list(decision.rules),
        "model": decision.route or facts.model,
        "redacted": list(decision.redacted_classes),
        "code": decision.code or _REFUSAL_CODES.get(decision.action),
        "shadow_decision": decision.shadow_action.value if decision.shadow_action else None,
        "exception": decision.exception_id,
        "tools_stripped": [t for t in facts.tools if tools is not None and tools.offer(t)],
        "output": output,
    }


def compare(test: PolicyTest, actual: Mapping[str, Any]) -> list[Mismatch]:
    """The expected fields of ``test`` that ``actual`` does not meet."""
    mismatches = []
    expected = test.expect.model_dump()
    for name, want in expected.items():
        if want is None:
            continue
        got = actual[name]
        if name in _SET_FIELDS:
            same = sorted(want) == sorted(got)
        elif want == NONE:
            same = got is None
        else:
            same = want == got
        if not same:
            mismatches.append(Mismatch(name, want, got))
    return mismatches


def _show(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


# -- JUnit XML -----------------------------------------------------------------------


def junit_xml(report: RunReport, suite: str) -> bytes:
    """The run as JUnit XML (one testcase per case) for CI tools; ``suite`` names the file."""
    failures = sum(1 for r in report.results if r.error is None and r.mismatches)
    errors = sum(1 for r in report.results if r.error is not None)
    counts = {
        "tests": str(len(report.results)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": "0",
    }
    root = ET.Element("testsuites", {"name": "bastion policy test", **counts})
    element = ET.SubElement(root, "testsuite", {"name": suite, **counts})
    properties = ET.SubElement(element, "properties")
    ET.SubElement(properties, "property", name="policy", value=report.policy)
    unreached = ", ".join(report.unreached) or NONE
    ET.SubElement(properties, "property", name="rules_not_reached", value=unreached)
    for result in report.results:
        file, _, line = result.source.rpartition(":")
        attrs = {"name": result.name, "classname": suite, "file": file, "line": line}
        testcase = ET.SubElement(element, "testcase", attrs)
        if result.error is not None:
            ET.SubElement(testcase, "error", message=result.error).text = result.error
        elif result.mismatches:
            message = "; ".join(m.describe() for m in result.mismatches)
            failure = ET.SubElement(testcase, "failure", message=message)
            failure.text = result.failure_text()
    if not report.results:
        out = ET.SubElement(element, "system-err")
        out.text = "no test case ran"
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
