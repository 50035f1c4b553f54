"""Replay: re-decide recorded calls under a candidate policy, from their audit facts.

Pure: the caller reads the records and class sets from the store and hands them in;
nothing here does I/O. A call is rebuilt from its record (``facts_from_record``: who,
endpoint, model, the classes found where, tools, the exception it named) and decided by
the candidate; the result is compared with what was recorded (action, route,
redactions, rules) and changes are grouped by app, team and rule.

What replay cannot know is marked **incomplete** rather than guessed:

* the class set: each record names the set of classes its detectors looked for
  (``request_facts["class_set"]``). A class the candidate acts on that was not in that
  set was not looked for, so its absence from the findings proves nothing. Records
  without a known set are incomplete too.
* dynamic exceptions: only the candidate's static exceptions apply (the store's are not
  part of the facts). A record that named or used an exception the candidate does not
  declare is incomplete; the name is dropped so the candidate decides it as an
  unnamed call instead of refusing it as ``exception_invalid``.

Exceptions are evaluated at the record's time (``started_at``) unless ``now`` is given.
Shadow decisions are not compared.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bastion.model import CallRecord, Decision
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.compiler import SENSITIVITY_RANK, CompiledPolicy
from bastion.policy.loader import Policy

EXAMPLES_PER_GROUP = 5
UNDECIDED = frozenset({"none", "scan"})
"""Recorded decisions that are not a policy decision (refused before deciding; scan)."""
EXCEPTION_INVALID = "exception_invalid"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision reduced to what replay compares."""

    action: str
    rules: tuple[str, ...] = ()
    route: str | None = None
    redactions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_decision(cls, decision: Decision) -> Outcome:
        return cls(
            decision.action.value, decision.rules, decision.route, tuple(decision.redactions)
        )

    @classmethod
    def of_record(cls, record: CallRecord) -> Outcome:
        facts = record.request_facts
        route = facts.get("route")
        redacted = facts.get("redacted")
        redactions: tuple[tuple[str, str], ...] = ()
        if isinstance(redacted, Mapping):
            redactions = tuple(sorted((str(k), str(v)) for k, v in redacted.items()))
        return cls(
            record.decision,
            record.rules,
            route if isinstance(route, str) else None,
            redactions,
        )


def facts_from_record(record: CallRecord) -> CallFacts:
    """The facts a policy decided ``record``'s call on, rebuilt without its text.

    Findings of the answer (``output``) are left out: the request was decided before
    the answer existed. The provider is the recorded one unless the call was rerouted
    (then it is the routed model's); ``replay`` prefers the candidate config's.
    Raises ``ValueError`` for a record with no principal or no model.
    """
    if record.principal is None or not record.model_requested:
        raise ValueError(f"record {record.request_id} has no principal or no model")
    request_facts = record.request_facts
    tools = request_facts.get("tools")
    exception = request_facts.get("exception")
    rerouted = record.model_used not in (None, record.model_requested)
    return CallFacts(
        principal=record.principal,
        endpoint=record.endpoint,
        model=record.model_requested,
        classes=tuple(
            ClassFact(s.data_class, s.source, s.score, s.count, s.dummy)
            for s in record.findings
            if s.source != "output"
        ),
        provider=None if rerouted else record.provider,
        tools=tuple(str(t) for t in tools) if isinstance(tools, list) else (),
        exception_id=exception if isinstance(exception, str) else None,
    )


def needed_classes(policy: CompiledPolicy, registry: Iterable[str]) -> frozenset[str]:
    """Classes of ``registry`` whose presence can change the candidate's decision.

    Those an enforced rule matches by class, those an approved model denies, and those
    more sensitive than some approved model takes; monitored classes are invisible to
    the policy and never needed.
    """
    with_classes = policy.enforced & ~policy.classes.free
    needed: set[str] = set()
    approved = policy.approved or {}
    for name in registry:
        if policy.monitored(name):
            continue
        if policy.classes.mask(name) & with_classes:
            needed.add(name)
            continue
        rank = SENSITIVITY_RANK[policy.sensitivity(name)]
        for limit, denied in approved.values():
            if rank > SENSITIVITY_RANK[limit] or any(fnmatch.fnmatchcase(name, g) for g in denied):
                needed.add(name)
                break
    return frozenset(needed)


@dataclass(frozen=True, slots=True)
class CallChange:
    """One replayed call whose decision the candidate would change."""

    request_id: str
    started_at: float
    app: str | None
    team: str | None
    user: str | None
    recorded: Outcome
    candidate: Outcome
    transition: str
    rule: str
    incomplete: bool


@dataclass(slots=True)
class ChangeGroup:
    """Calls of one app and team whose decision ``rule`` changed."""

    app: str | None
    team: str | None
    rule: str
    count: int = 0
    transitions: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    incomplete: int = 0
    missing_classes: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "team": self.team,
            "rule": self.rule,
            "calls": self.count,
            "transitions": dict(self.transitions.most_common()),
            "examples": list(self.examples),
            "incomplete": self.incomplete,
            "missing_classes": sorted(self.missing_classes),
        }


@dataclass(slots=True)
class IncompleteGroup:
    """Calls of one app and team the candidate could not fully re-decide."""

    app: str | None
    team: str | None
    count: int = 0
    changed: int = 0
    unknown_class_set: int = 0
    missing_classes: Counter[str] = field(default_factory=Counter)
    unknown_exceptions: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "team": self.team,
            "calls": self.count,
            "changed": self.changed,
            "unknown_class_set": self.unknown_class_set,
            "missing_classes": dict(sorted(self.missing_classes.items())),
            "unknown_exceptions": sorted(self.unknown_exceptions),
            "examples": list(self.examples),
        }


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What the candidate would change in the replayed calls."""

    candidate: str
    records: int
    replayed: int
    unchanged: int
    changed: int
    incomplete: int
    skipped: Mapping[str, int]
    transitions: Mapping[str, int]
    changes: tuple[ChangeGroup, ...]
    incomplete_groups: tuple[IncompleteGroup, ...]
    first_started_at: float | None
    last_started_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "records": self.records,
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "incomplete": self.incomplete,
            "first_started_at": self.first_started_at,
            "last_started_at": self.last_started_at,
            "skipped": dict(self.skipped),
            "transitions": dict(self.transitions),
            "changes": [group.to_json() for group in self.changes],
            "incomplete_groups": [group.to_json() for group in self.incomplete_groups],
        }


class Replay:
    """Re-decides records one at a time (``add``) and aggregates; ``report`` sums up.

    ``registry`` is the classes the candidate's gateway would look for (default: every
    class the candidate was compiled against); ``now`` fixes the decision time (default:
    each record's ``started_at``).
    """

    def __init__(
        self,
        candidate: Policy,
        *,
        registry: Collection[str] | None = None,
        now: float | None = None,
        examples: int = EXAMPLES_PER_GROUP,
    ) -> None:
        compiled = candidate.compiled
        self._policy = candidate
        self._now = now
        self._examples = examples
        self._needed = needed_classes(compiled, compiled.defaults if registry is None else registry)
        self._static = frozenset(e.id for e in compiled.static_exceptions)
        self._providers = compiled.model_providers
        self._missing_by_digest: dict[str, tuple[str, ...]] = {}
        self._records = 0
        self._replayed = 0
        self._changed = 0
        self._incomplete = 0
        self._skipped: Counter[str] = Counter()
        self._transitions: Counter[str] = Counter()
        self._changes: dict[tuple[str | None, str | None, str], ChangeGroup] = {}
        self._gaps: dict[tuple[str | None, str | None], IncompleteGroup] = {}
        self._first: float | None = None
        self._last: float | None = None

    @property
    def needed(self) -> frozenset[str]:
        """Classes whose presence can change the candidate's decisions."""
        return self._needed

    def add(self, record: CallRecord, class_set: frozenset[str] | None) -> CallChange | None:
        """Re-decide ``record``; ``class_set`` is its recorded class set (None: unknown).
        The change when the candidate decides it differently, else None."""
        self._records += 1
        reason = _skip_reason(record)
        if reason is not None:
            self._skipped[reason] += 1
            return None
        facts = facts_from_record(record)
        unknown_exceptions = self._unknown_exceptions(record)
        if facts.exception_id in unknown_exceptions:
            facts = replace(facts, exception_id=None)
        provider = self._providers.get(facts.model)
        if provider is not None:
            facts = replace(facts, provider=provider)
        moment = record.started_at if self._now is None else self._now
        candidate = Outcome.of_decision(self._policy.decide(facts, (), moment))
        recorded = Outcome.of_record(record)
        missing = self._missing(record, class_set)

        self._replayed += 1
        self._first = record.started_at if self._first is None else self._first
        self._last = record.started_at
        changed = candidate != recorded
        incomplete = class_set is None or bool(missing) or bool(unknown_exceptions)
        principal = record.principal
        assert principal is not None  # _skip_reason
        change: CallChange | None = None
        if changed:
            self._changed += 1
            transition = _transition(recorded, candidate)
            self._transitions[transition] += 1
            rule = _responsible_rule(recorded, candidate)
            key = (principal.app, principal.team, rule)
            group = self._changes.get(key)
            if group is None:
                group = self._changes[key] = ChangeGroup(*key)
            group.count += 1
            group.transitions[transition] += 1
            if len(group.examples) < self._examples:
                group.examples.append(record.request_id)
            if incomplete:
                group.incomplete += 1
                group.missing_classes.update(missing)
            change = CallChange(
                record.request_id,
                record.started_at,
                principal.app,
                principal.team,
                principal.user,
                recorded,
                candidate,
                transition,
                rule,
                incomplete,
            )
        if incomplete:
            self._incomplete += 1
            gap_key = (principal.app, principal.team)
            gap = self._gaps.get(gap_key)
            if gap is None:
                gap = self._gaps[gap_key] = IncompleteGroup(*gap_key)
            gap.count += 1
            gap.changed += changed
            gap.unknown_class_set += class_set is None
            gap.missing_classes.update(missing)
            gap.unknown_exceptions.update(unknown_exceptions)
            if len(gap.examples) < self._examples:
                gap.examples.append(record.request_id)
        return change

    def report(self) -> ReplayReport:
        """The summary so far; changes ordered by how many calls they touch."""
        changes = sorted(
            self._changes.values(),
            key=lambda g: (-g.count, g.app or "", g.team or "", g.rule),
        )
        gaps = sorted(self._gaps.values(), key=lambda g: (-g.count, g.app or "", g.team or ""))
        return ReplayReport(
            candidate=self._policy.version,
            records=self._records,
            replayed=self._replayed,
            unchanged=self._replayed - self._changed,
            changed=self._changed,
            incomplete=self._incomplete,
            skipped=dict(sorted(self._skipped.items())),
            transitions=dict(self._transitions.most_common()),
            changes=tuple(changes),
            incomplete_groups=tuple(gaps),
            first_started_at=self._first,
            last_started_at=self._last,
        )

    def _missing(self, record: CallRecord, class_set: frozenset[str] | None) -> tuple[str, ...]:
        """Needed classes the record's detectors did not look for (all when unknown)."""
        if class_set is None:
            return ()
        digest = record.request_facts.get("class_set")
        key = digest if isinstance(digest, str) else None
        if key is not None and key in self._missing_by_digest:
            return self._missing_by_digest[key]
        missing = tuple(sorted(self._needed - class_set))
        if key is not None:
            self._missing_by_digest[key] = missing
        return missing

    def _unknown_exceptions(self, record: CallRecord) -> tuple[str, ...]:
        """Exceptions the record named or used that the candidate does not declare."""
        facts = record.request_facts
        unknown: list[str] = []
        applied = facts.get("exception_applied")
        if isinstance(applied, str) and applied not in self._static:
            unknown.append(applied)
        named = facts.get("exception")
        if (
            isinstance(named, str)
            and named not in self._static
            and named not in unknown
            and record.error_code != EXCEPTION_INVALID  # it did not exist then either
        ):
            unknown.append(named)
        return tuple(unknown)


def replay(
    records: Iterable[CallRecord],
    candidate: Policy,
    class_sets: Mapping[str, frozenset[str]],
    *,
    registry: Collection[str] | None = None,
    now: float | None = None,
) -> ReplayReport:
    """Re-decide ``records`` under ``candidate``; ``class_sets`` maps the digests the
    records name to their class names (a digest not in it is an unknown set)."""
    run = Replay(candidate, registry=registry, now=now)
    for record in records:
        run.add(record, class_set_of(record, class_sets))
    return run.report()


def class_set_of(
    record: CallRecord, class_sets: Mapping[str, frozenset[str]]
) -> frozenset[str] | None:
    """The class set ``record`` names, or None when it names none or an unknown one."""
    digest = record.request_facts.get("class_set")
    return class_sets.get(digest) if isinstance(digest, str) else None


def _skip_reason(record: CallRecord) -> str | None:
    if record.decision in UNDECIDED:
        return "not decided"
    if record.principal is None:
        return "no principal"
    if not record.model_requested:
        return "no model"
    return None


def _transition(recorded: Outcome, candidate: Outcome) -> str:
    """``allow → block``; for the same action, what else differs."""
    text = f"{recorded.action} → {candidate.action}"
    if recorded.action != candidate.action:
        return text
    if recorded.route != candidate.route:
        return f"{text} (model {recorded.route or 'as asked'} → {candidate.route or 'as asked'})"
    if recorded.redactions != candidate.redactions:
        return f"{text} (redactions)"
    return f"{text} (rules)"


def _responsible_rule(recorded: Outcome, candidate: Outcome) -> str:
    """The rule the change is about: one the candidate adds, else one it no longer
    applies, else the candidate's first."""
    for rule in candidate.rules:
        if rule not in recorded.rules:
            return rule
    for rule in recorded.rules:
        if rule not in candidate.rules:
            return rule
    if candidate.rules:
        return candidate.rules[0]
    return recorded.rules[0] if recorded.rules else "-"
