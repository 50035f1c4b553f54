"""What the evidence report shows (``EvidenceReport`` and its rows) and which controls
each of its sections evidences (``CONTROLS``). Plain values: gathered by ``cli.report``,
rendered by ``cli.report_html``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EnvironmentCalls:
    """Calls of one environment in the period and how many were refused or redacted."""

    environment: str
    calls: int
    blocked: int
    redacted: int


@dataclass(frozen=True, slots=True)
class CallsOverTime:
    """Calls per bucket (``starts``, epoch seconds) and environment."""

    bucket_s: float
    starts: tuple[float, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class InjectionRow:
    """Injection findings of one class at one source."""

    data_class: str
    source: str
    detections: int
    calls: int


@dataclass(frozen=True, slots=True)
class OwnerExceptions:
    """Calls exceptions let through for one app owner."""

    owner: str
    calls: int
    exceptions: int


@dataclass(frozen=True, slots=True)
class TeamAdoption:
    """Settled use by one team in the period."""

    team: str
    calls: int
    apps: int
    users: int
    tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """One budget of one scope in its current period."""

    rule: str
    scope: str
    measure: str
    window: str
    period: str | None
    limit: float
    spent: float
    share: float
    soft: float | None


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A policy rule and the calls it matched."""

    rule: str
    calls: int
    refused: int


@dataclass(frozen=True, slots=True)
class PolicyInForce:
    """A policy version that was active during the period."""

    version: str
    activated_at: float
    activated_by: str
    reason: str
    active_at_end: bool


@dataclass(frozen=True, slots=True)
class ExceptionEvent:
    """An exception granted, expired or revoked during the period."""

    event: str  # "granted", "expired", "revoked"
    at: float
    id: str
    rule: str
    scope: str
    owner: str
    requester: str
    approver: str | None
    expires_at: float
    uses: int


@dataclass(frozen=True, slots=True)
class ChainResult:
    """The audit chain verification run for the report."""

    ok: bool
    events: int
    records: int
    checkpoints: int
    problem: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """Everything the report shows, for ``[since, until)`` (epoch seconds, UTC)."""

    since: float
    until: float
    generated_at: float
    generated_by: str
    decisions: tuple[tuple[str, int], ...]
    calls_over_time: CallsOverTime
    environments: tuple[EnvironmentCalls, ...]
    injections: tuple[InjectionRow, ...]
    exception_uses: tuple[OwnerExceptions, ...]
    adoption: tuple[TeamAdoption, ...]
    budgets: tuple[BudgetRow, ...]
    budgets_as_of: float
    rules: tuple[RuleRow, ...]
    policies: tuple[PolicyInForce, ...]
    exceptions: tuple[ExceptionEvent, ...]
    chain: ChainResult

    @property
    def total_calls(self) -> int:
        return sum(count for _, count in self.decisions)


CONTROLS: dict[str, tuple[str, ...]] = {
    "calls": (
        "EU AI Act Art. 12(1) automatic recording of events",
        "NIST AI RMF Measure (MEASURE 2.4: the system is monitored in production)",
        "ISO/IEC 42001 9.1 monitoring and measurement; A.6.2.6 operation and monitoring",
    ),
    "refusals": (
        "OWASP LLM02:2025 Sensitive Information Disclosure",
        "NIST AI RMF Manage (risk responses applied)",
        "ISO/IEC 42001 8.1 operational control; A.6.2.6 operation and monitoring",
    ),
    "injections": (
        "OWASP LLM01:2025 Prompt Injection",
        "NIST AI RMF Measure (MEASURE 2.7: security and resilience evaluated)",
        "ISO/IEC 42001 9.1; A.6.2.6 operation and monitoring",
    ),
    "exception_uses": (
        "NIST AI RMF Govern (accountability for risk decisions)",
        "ISO/IEC 42001 A.3.2 AI roles and responsibilities",
        "EU AI Act Art. 12(2) events relevant to risk situations",
    ),
    "adoption": (
        "NIST AI RMF Map / Govern (GOVERN 1.6: inventory of AI use)",
        "ISO/IEC 42001 4.3 scope; A.9 use of AI systems",
    ),
    "budgets": (
        "OWASP LLM10:2025 Unbounded Consumption",
        "NIST AI RMF Manage (resources allocated to manage risk)",
        "ISO/IEC 42001 9.1 monitoring and measurement",
    ),
    "rules": (
        "OWASP LLM02:2025 Sensitive Information Disclosure; LLM06:2025 Excessive Agency "
        "(tool-call rules)",
        "NIST AI RMF Manage",
        "ISO/IEC 42001 5.2 AI policy; 8.1 operational control",
    ),
    "policies": (
        "NIST AI RMF Govern (policies in place and versioned)",
        "ISO/IEC 42001 5.2 AI policy; 7.5 documented information",
        "EU AI Act Art. 12(2) identifying substantial modifications",
    ),
    "exceptions": (
        "NIST AI RMF Govern (documented approvals)",
        "ISO/IEC 42001 A.3.2 AI roles and responsibilities; 7.5 documented information",
    ),
    "chain": (
        "EU AI Act Art. 12(1) logs over the system's lifetime",
        "ISO/IEC 42001 A.6.2.8 recording of event logs; 9.2 internal audit",
        "NIST AI RMF Govern / Measure (traceable, tamper-evident records)",
    ),
}
"""Section id -> the controls it evidences."""
