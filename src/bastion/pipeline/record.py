"""Building the audit record of a call from its context."""

from __future__ import annotations

from collections import Counter

from bastion.model import CallRecord, Decision, FindingSummary
from bastion.model.finding import ANSWER, REQUEST
from bastion.pipeline.context import CallContext
from bastion.pipeline.output_guard import OutputGuard
from bastion.pipeline.tool_calls import shown_name


def _summaries(ctx: CallContext, masked: dict[str, str]) -> tuple[FindingSummary, ...]:
    """Classes found, by where they sat; never the values (nor a key of the body that
    holds one: ``masked``)."""
    if (not ctx.findings and not ctx.answer_findings) or ctx.parsed is None:
        return ()
    segments = ctx.parsed.conversation.segments
    counts: Counter[tuple[str, str, str, bool]] = Counter()
    best: dict[tuple[str, str, str, bool], float] = {}
    for finding in (*ctx.findings, *ctx.answer_findings):
        if finding.segment == ANSWER:
            source, location = "output", "answer"
        elif finding.segment == REQUEST:
            source, location = "request", "request"
        else:
            segment = segments[finding.segment]
            path = (masked.get(str(part), str(part)) for part in segment.path)
            source, location = segment.source.value, ".".join(path)
        key = (finding.data_class, source, location, finding.dummy)
        counts[key] += 1
        best[key] = max(best.get(key, 0.0), finding.score)
    return tuple(
        FindingSummary(key[0], key[1], key[2], count, best[key], dummy=key[3])
        for key, count in counts.items()
    )


def _found_in_names(ctx: CallContext) -> dict[str, str]:
    """Names (tools, fields) in which a detector found a value, each with the classes
    found, as ``[pii.email]``: a record lists the tools offered, never a value found."""
    if ctx.parsed is None or not ctx.findings:  # most calls: nothing found
        return {}
    segments = ctx.parsed.conversation.segments
    found: dict[str, set[str]] = {}
    for finding in ctx.findings:
        if finding.segment < 0 or not segments[finding.segment].names:
            continue
        text = segments[finding.segment].text  # one name per line
        first = text.rfind("\n", 0, finding.start) + 1
        last = text.find("\n", max(finding.end, finding.start + 1) - 1)
        for name in text[first : len(text) if last < 0 else last].split("\n"):
            found.setdefault(name, set()).add(finding.data_class)
    return {name: f"[{','.join(sorted(classes))}]" for name, classes in found.items()}


def _decision_facts(decision: Decision) -> dict[str, object]:
    """What the policy did beyond action and rules: every action, not just the strongest."""
    facts: dict[str, object] = {}
    if decision.route:
        facts["route"] = decision.route
    if decision.redactions:
        facts["redacted"] = dict(decision.redactions)
    if decision.exception_id:
        facts["exception_applied"] = decision.exception_id
    if decision.exception_state:
        facts["exception_state"] = decision.exception_state
    if decision.shadow_rules or decision.shadow_action is not None:
        facts["shadow"] = {
            "decision": decision.shadow_action.value if decision.shadow_action else None,
            "rules": list(decision.shadow_rules),
        }
    if decision.logged_rules:
        facts["logged_rules"] = list(decision.logged_rules)
    return facts


def build_record(ctx: CallContext) -> CallRecord:
    """The audit record: who, what, decision, model asked and used, usage, timings."""
    conversation = ctx.parsed.conversation if ctx.parsed else None
    decision = ctx.decision
    facts: dict[str, object] = {}
    masked = _found_in_names(ctx)
    if conversation is not None:
        facts = {
            "segments": [[s.source.value, len(s.text)] for s in conversation.segments],
            "tools": [masked.get(tool, tool) for tool in conversation.tools],
            "unscanned": list(conversation.unscanned),
            "untrusted_marks": conversation.untrusted_marks,
            "exception": conversation.exception_id,
        }
    if decision is not None:
        facts.update(_decision_facts(decision))
    if ctx.class_set is not None:
        facts["class_set"] = ctx.class_set
    if ctx.content_ref is not None:
        facts["content"] = ctx.content_ref  # by salted digest: the text is stored apart
    guard = ctx.answer_scan
    if isinstance(guard, OutputGuard) and guard.redacted:
        facts["output_redacted"] = {"classes": dict(guard.redacted), "rules": list(guard.rules)}
    if isinstance(guard, OutputGuard) and guard.blocked:
        facts["output_blocked"] = {
            "classes": dict(guard.blocked),
            "rules": list(guard.blocking_rules),
        }
    if ctx.replay_of is not None:
        facts["idempotent_replay_of"] = ctx.replay_of
    if ctx.reservation is not None and ctx.reservation.degraded is not None:
        facts["limits_degraded"] = ctx.reservation.degraded  # "local" or "unlimited"
    if ctx.tools_stripped:
        facts["tools_stripped"] = [
            {"tool": masked.get(r.tool, r.tool), "rule": r.rule} for r in ctx.tools_stripped
        ]
    if ctx.tool_guard is not None and ctx.tool_guard.refusals:
        facts["tool_calls_refused"] = [
            {"tool": shown_name(r.tool), "rule": r.rule, "reason": r.reason}
            for r in ctx.tool_guard.refusals
        ]
    return CallRecord(
        request_id=ctx.call.request_id,
        started_at=ctx.started_wall,
        endpoint=ctx.call.endpoint.value,
        principal=ctx.principal,
        model_requested=ctx.model_requested,
        model_used=ctx.model_used,
        decision=decision.action.value if decision else "none",
        status=ctx.status,
        http_status=ctx.http_status,
        error_code=ctx.error_code,
        stream=bool(conversation and conversation.stream),
        usage=ctx.usage,
        cost_usd=ctx.cost_usd,
        gateway_ms=ctx.overhead_s * 1000.0,
        upstream_ms=ctx.upstream_s * 1000.0,
        findings=_summaries(ctx, masked),
        rules=decision.rules if decision else (),
        policy_version=decision.policy_version if decision else None,
        provider=ctx.provider,
        end_user_claimed=ctx.end_user_claimed,
        client_addr=ctx.call.client_addr,
        request_facts=facts,
    )
