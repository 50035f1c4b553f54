"""The policy simulator: a principal and a prompt (or messages, or a whole request body)
in; what the detectors found (class and span, never the value) and the policy's
decision with its trace out (``policy.explain``). Nothing is forwarded, recorded or
counted; the live exceptions that would cover the caller are applied, as in a call."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from bastion.errors import InvalidRequest
from bastion.model import Conversation, Finding, Principal
from bastion.pipeline.request_facts import RequestFacts
from bastion.policy.explain import explain
from bastion.policy.loader import Policy
from bastion.policy.testing import CaseError
from bastion.server.admin_api.context import Actor, AdminContext, Ctx
from bastion.server.admin_api.policies import load_policy
from bastion.server.admin_api.policy_models import MAX_POLICY_CHARS, PolicyRef
from bastion.server.admin_api.routing import Route

Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SimulatedPrincipal(_Strict):
    """Who the call is made as (the fields of a gateway key's principal)."""

    key_id: Name = "simulator"
    name: Name = "policy-simulator"
    user: Name | None = None
    app: Name | None = None
    team: Name | None = None
    environment: Name = "dev"
    roles: list[Name] = Field(default_factory=list, max_length=50)
    owner: Name | None = None


class Simulation(_Strict):
    """One call to decide: give exactly one of ``prompt``, ``messages`` or ``request``."""

    principal: SimulatedPrincipal = Field(default_factory=SimulatedPrincipal)
    endpoint: Literal["chat.completions", "responses", "embeddings"] = "chat.completions"
    model: Name | None = Field(None, description="Default: the body's, else the first model.")
    prompt: str | None = Field(None, max_length=MAX_POLICY_CHARS, description="A user message.")
    messages: list[dict[str, Any]] | None = Field(
        None, max_length=1000, description="Chat messages (or Responses input items)."
    )
    request: dict[str, Any] | None = Field(None, description="A whole request body.")
    tools: list[Name] = Field(default_factory=list, max_length=200)
    exception: Name | None = Field(None, description="An exception id the call names.")
    policy: PolicyRef | None = Field(None, description="Default: the policy in force.")
    at: AwareDatetime | None = Field(None, description="Decide as of this time (default: now).")
    live_exceptions: bool = Field(True, description="Apply the approved exceptions in force.")

    @model_validator(mode="after")
    def _one_input(self) -> Simulation:
        given = [v for v in (self.prompt, self.messages, self.request) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of prompt, messages or request")
        return self


class SpanFinding(BaseModel):
    """A detected class and where: ``path`` and ``start``/``end`` locate the JSON string
    of the request body and the code points in it (none for whole-request findings)."""

    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class")
    source: str | None
    message: int | None
    path: str | None
    start: int | None
    end: int | None
    score: float
    detector: str


class Step(BaseModel):
    stage: str
    outcome: str
    detail: str | None = None


class RuleTrace(BaseModel):
    id: str
    action: str
    shadow: bool
    matched: bool
    reason: str
    steps: list[Step]


class CheckTrace(Step):
    rule: str


class ClassFact(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class")
    where: str
    score: float
    count: int
    sensitivity: str
    monitored: bool
    dummy: bool = Field(
        False, description="A documented example or filler credential (meta.known_dummy)."
    )


class ExceptionVerdict(BaseModel):
    id: str
    rule: str
    scope: dict[str, str]
    static: bool
    state: str
    expires_at: float | None
    named: bool
    in_scope: bool
    verdict: str


class DecisionInfo(BaseModel):
    action: str = Field(description="allow, redact, reroute, require_exception or block.")
    rules: list[str]
    model: str
    rerouted: bool
    redactions: dict[str, str]
    message: str | None
    code: str | None
    exception: str | None
    exception_state: str | None
    shadow_decision: str | None
    shadow_rules: list[str]
    logged_rules: list[str]
    policy_version: str | None


class SimulationResult(BaseModel):
    """What the detectors found and how the policy decided, rule by rule."""

    policy: str
    endpoint: str
    model: str
    findings: list[SpanFinding]
    classes: list[ClassFact] = Field(description="Findings as the policy sees them.")
    rules: list[RuleTrace]
    checks: list[CheckTrace]
    exceptions: list[ExceptionVerdict]
    decision: DecisionInfo


def _default_model(context: AdminContext, endpoint: str) -> str:
    wanted = "embedding" if endpoint == "embeddings" else "chat"
    for name, model in context.runtime.config.models.items():
        if model.kind == wanted:
            return name
    raise InvalidRequest(f"no {wanted} model is configured; name one in model", param="model")


def _body(context: AdminContext, sim: Simulation) -> dict[str, Any]:
    if sim.request is not None:
        body = dict(sim.request)
        if sim.model is None and "model" not in body:
            body["model"] = _default_model(context, sim.endpoint)
        return body
    model = sim.model or _default_model(context, sim.endpoint)
    if sim.prompt is not None:
        if sim.endpoint == "chat.completions":
            return {"model": model, "messages": [{"role": "user", "content": sim.prompt}]}
        return {"model": model, "input": sim.prompt}
    if sim.endpoint == "embeddings":
        raise InvalidRequest(
            "embeddings take a prompt or a request, not messages", param="messages"
        )
    key = "messages" if sim.endpoint == "chat.completions" else "input"
    return {"model": model, key: sim.messages}


def _span(conversation: Conversation, finding: Finding) -> SpanFinding:
    if 0 <= finding.segment < len(conversation.segments):
        segment = conversation.segments[finding.segment]
        return SpanFinding(
            class_=finding.data_class,
            source=segment.source.value,
            message=segment.message_index,
            path=".".join(str(part) for part in segment.path),
            start=segment.start + finding.start,
            end=segment.start + finding.end,
            score=finding.score,
            detector=finding.detector,
        )
    return SpanFinding(
        class_=finding.data_class,
        source=None,
        message=None,
        path=None,
        start=None,
        end=None,
        score=finding.score,
        detector=finding.detector,
    )


async def _policy(context: AdminContext, ref: PolicyRef | None) -> Policy:
    in_force = context.runtime.gateway.parts.decider
    if ref is None and isinstance(in_force, Policy):
        return in_force
    return (await load_policy(context, ref)).policy


async def simulate(actor: Actor, context: Ctx, body: Simulation) -> SimulationResult:
    """Decide one call as the gateway would, and say why (nothing is sent or recorded).

    The response names classes and where they are (JSON path of the body's string,
    code-point offsets); it never repeats the text.
    """
    policy = await _policy(context, body.policy)
    runtime = context.runtime
    fields = body.principal
    principal = Principal(
        key_id=fields.key_id,
        name=fields.name,
        user=fields.user,
        app=fields.app,
        team=fields.team,
        environment=fields.environment,
        roles=tuple(fields.roles),
        owner=fields.owner,
    )
    facts_of = RequestFacts(
        runtime.config, runtime.gateway.parts.wire, runtime.guardrails.inspector
    )
    try:
        scanned = facts_of.scan_body(
            _body(context, body),
            body.endpoint,
            principal,
            model=body.model,
            tools=body.tools,
            exception=body.exception,
        )
    except CaseError as exc:
        raise InvalidRequest(str(exc), param="request") from exc
    facts = scanned.facts
    exceptions = (
        runtime.exception_book.for_call(principal, facts.exception_id)
        if body.live_exceptions
        else ()
    )
    at = body.at.timestamp() if body.at is not None else time.time()
    explained = explain(policy, facts, exceptions, at).to_json()
    return SimulationResult(
        policy=explained["policy"],
        endpoint=facts.endpoint,
        model=facts.model,
        findings=[_span(scanned.conversation, finding) for finding in scanned.findings],
        classes=[ClassFact.model_validate(item) for item in explained["findings"]],
        rules=[RuleTrace.model_validate(item) for item in explained["rules"]],
        checks=[CheckTrace.model_validate(item) for item in explained["checks"]],
        exceptions=[ExceptionVerdict.model_validate(item) for item in explained["exceptions"]],
        decision=DecisionInfo.model_validate(explained["decision"]),
    )


ROUTES = (Route("POST", "/policies/simulate", simulate, "policies.simulate", (400, 404)),)
