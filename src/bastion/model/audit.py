"""The audit record of one call: enough facts to explain it and re-decide it later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
    dummy: bool = False
    """Documented example or filler credentials (``Finding.dummy``), summed apart from
    real ones; in JSON only when true."""


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


_ANSWER_RULE_LISTS = ("output_redacted", "output_blocked")
_TOOL_RULE_ENTRIES = ("tools_stripped", "tool_calls_refused")


def rules_acted(record: CallRecord) -> tuple[str, ...]:
    """Every rule that acted on the call, each once: the rules that decided on the
    request (``rules``), then those named in ``request_facts`` - output rules that
    redacted or refused the answer (``output_redacted.rules``, ``output_blocked.rules``),
    tool rules that removed a tool or refused a tool call (``tools_stripped[].rule``,
    ``tool_calls_refused[].rule``). The rules a search by rule finds the call by
    (migration 0013 reads the same places); shadow rules did not act and are not here."""
    named: list[str] = list(record.rules)
    facts = record.request_facts
    for key in _ANSWER_RULE_LISTS:
        part = facts.get(key)
        listed = part.get("rules") if isinstance(part, Mapping) else None
        if isinstance(listed, list):
            named += (rule for rule in listed if isinstance(rule, str))
    for key in _TOOL_RULE_ENTRIES:
        entries = facts.get(key)
        if isinstance(entries, list):
            named += (
                entry["rule"]
                for entry in entries
                if isinstance(entry, Mapping) and isinstance(entry.get("rule"), str)
            )
    return tuple(dict.fromkeys(named))


def record_to_json(record: CallRecord) -> dict[str, Any]:
    """The record as flat JSON values: the columns of ``call_records`` and the body of
    its chained completion event (one shape, so the verifier can compare them)."""
    principal = record.principal
    return {
        "request_id": record.request_id,
        "started_at": record.started_at,
        "endpoint": record.endpoint,
        "key_id": principal.key_id if principal else None,
        "name": principal.name if principal else None,
        "user": principal.user if principal else None,
        "app": principal.app if principal else None,
        "team": principal.team if principal else None,
        "environment": principal.environment if principal else None,
        "roles": list(principal.roles) if principal else None,
        "owner": principal.owner if principal else None,
        "model_requested": record.model_requested,
        "model_used": record.model_used,
        "provider": record.provider,
        "decision": record.decision,
        "status": record.status.value,
        "http_status": record.http_status,
        "error_code": record.error_code,
        "stream": record.stream,
        "prompt_tokens": record.usage.prompt_tokens,
        "completion_tokens": record.usage.completion_tokens,
        "usage_estimated": record.usage.estimated,
        "gateway_ms": record.gateway_ms,
        "upstream_ms": record.upstream_ms,
        "findings": [
            {
                "data_class": f.data_class,
                "source": f.source,
                "location": f.location,
                "count": f.count,
                "score": f.score,
                **({"dummy": True} if f.dummy else {}),
            }
            for f in record.findings
        ],
        "rules": list(record.rules),
        "policy_version": record.policy_version,
        "cost_usd": record.cost_usd,
        "end_user_claimed": record.end_user_claimed,
        "client_addr": record.client_addr,
        "request_facts": record.request_facts,
    }


def record_document(record: CallRecord) -> dict[str, Any]:
    """The record as exports show it: :func:`record_to_json` and ``rules_acted``
    (derived from ``rules`` and ``request_facts``, not a chained field of its own)."""
    return {**record_to_json(record), "rules_acted": list(rules_acted(record))}


def record_from_json(values: Mapping[str, Any]) -> CallRecord:
    """The inverse of :func:`record_to_json`."""
    principal = None
    if values.get("key_id") is not None:
        principal = Principal(
            key_id=values["key_id"],
            name=values.get("name") or "",
            user=values.get("user"),
            app=values.get("app"),
            team=values.get("team"),
            environment=values.get("environment") or "dev",
            roles=tuple(values.get("roles") or ()),
            owner=values.get("owner"),
        )
    return CallRecord(
        request_id=values["request_id"],
        started_at=values["started_at"],
        endpoint=values["endpoint"],
        principal=principal,
        model_requested=values.get("model_requested"),
        model_used=values.get("model_used"),
        decision=values["decision"],
        status=CallStatus(values["status"]),
        http_status=values["http_status"],
        error_code=values.get("error_code"),
        stream=bool(values.get("stream")),
        usage=Usage(
            prompt_tokens=values.get("prompt_tokens") or 0,
            completion_tokens=values.get("completion_tokens") or 0,
            estimated=bool(values.get("usage_estimated")),
        ),
        gateway_ms=values.get("gateway_ms") or 0.0,
        upstream_ms=values.get("upstream_ms") or 0.0,
        findings=tuple(FindingSummary(**f) for f in values.get("findings") or ()),
        rules=tuple(values.get("rules") or ()),
        policy_version=values.get("policy_version"),
        cost_usd=values.get("cost_usd"),
        provider=values.get("provider"),
        end_user_claimed=values.get("end_user_claimed"),
        client_addr=values.get("client_addr"),
        request_facts=dict(values.get("request_facts") or {}),
    )
