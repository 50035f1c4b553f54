"""The audit record of one call: enough facts to explain it and re-decide it later."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bastion.model.principal import Principal
from bastion.model.usage import Usage


class CallStatus(StrEnum):
    """Terminal states of a call (RELIABILITY.md A2)."""

    COMPLETED = "completed"
    BLOCKED = "blocked"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN_AFTER_CRASH = "unknown_after_crash"


@dataclass(frozen=True, slots=True)
class FindingSummary:
    """A class found at one place of the request; never the value itself."""

    data_class: str
    source: str
    location: str
    count: int = 1
    score: float = 1.0


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call, as the audit store keeps it."""

    request_id: str
    started_at: float
    endpoint: str
    principal: Principal | None
    model_requested: str | None
    model_used: str | None
    decision: str
    status: CallStatus
    http_status: int
    error_code: str | None = None
    stream: bool = False
    usage: Usage = field(default_factory=Usage)
    gateway_ms: float = 0.0
    upstream_ms: float = 0.0
    findings: tuple[FindingSummary, ...] = ()
    rules: tuple[str, ...] = ()
    policy_version: str | None = None
    cost_usd: float | None = None
    provider: str | None = None
    end_user_claimed: str | None = None
    client_addr: str | None = None
    request_facts: dict[str, object] = field(default_factory=dict)
