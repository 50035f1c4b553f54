"""The policy file's shape (YAML, ``extra="forbid"``); docs/policy.md is its reference.

A policy names itself and its version, says how each data class is treated (enforced or
only monitored, how sensitive), which models are approved for how sensitive data, the
rules in order, static exceptions and the tests that pin its behaviour down.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bastion.model.controls import NOT_OFFERED_RULE

TransformName = Literal["drop", "mask", "hash", "synthesize", "pseudonymise", "strip", "spotlight"]
ActionName = Literal["allow", "redact", "block", "reroute", "require_exception"]
OutputTransformName = Literal["mask", "drop", "hash"]
Sensitivity = Literal["public", "internal", "confidential", "restricted"]
Where = Literal["system", "user", "assistant", "retrieved", "tool_result", "metadata", "output"]
EndpointName = Literal["chat.completions", "responses", "embeddings"]
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _listed(value: Any) -> Any:
    """A single string where a list is expected is a list of one."""
    return [value] if isinstance(value, str) else value


Globs = Annotated[list[str], BeforeValidator(_listed)]


def valid_id(value: str) -> bool:
    return bool(value) and set(value) <= _ID_CHARS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleMatch(_Strict):
    """Conditions of a rule; all given ones must hold. Values are globs (`*`), a single
    string or a list of alternatives. An empty match matches every call."""

    classes: Globs | None = Field(
        None, description="Data classes that trigger the rule, e.g. pii.* or secret.aws_*."
    )
    min_score: float = Field(0.0, ge=0, le=1, description="Ignore findings scored below this.")
    min_count: int = Field(1, ge=1, description="At least this many matching findings.")
    dummies: bool = Field(
        False,
        description="Also count vendors' documented example credentials and filler values "
        "(sk-xxxx..., AKIAIOSFODNN7EXAMPLE; meta.known_dummy), which rules skip by default.",
    )
    where: list[Where] | None = Field(
        None, description="Only findings in these places (system, user, retrieved, ...)."
    )
    key_id: Globs | None = Field(None, description="Principal: gateway key id.")
    name: Globs | None = Field(None, description="Principal: key name.")
    user: Globs | None = Field(None, description="Principal: user.")
    app: Globs | None = Field(None, description="Principal: app.")
    team: Globs | None = Field(None, description="Principal: team (department).")
    environment: Globs | None = Field(None, description="Principal: environment.")
    owner: Globs | None = Field(None, description="Principal: app owner.")
    roles: Globs | None = Field(None, description="Principal: holds any of these roles.")
    models: Globs | None = Field(None, description="Public model name the call goes to.")
    providers: Globs | None = Field(None, description="Provider of that model.")
    tools: Globs | None = Field(None, description="Any of these tools is offered.")
    endpoints: list[EndpointName] | None = Field(None, description="API surface.")

    @model_validator(mode="after")
    def _class_options_need_classes(self) -> RuleMatch:
        if self.classes is None and (
            self.min_score or self.min_count != 1 or self.where is not None or self.dummies
        ):
            raise ValueError(
                "min_score, min_count, dummies and where refine `classes`; add classes"
            )
        return self


class Reroute(_Strict):
    to: str = Field(description="Approved model the call goes to instead.")


class Rule(_Strict):
    id: str | None = Field(
        None, description="Rule id shown in x-bastion-rules ([a-z0-9_.-]); default rule-<n>."
    )
    description: str | None = Field(None, description="What the rule is for (docs only).")
    match: RuleMatch = Field(default_factory=RuleMatch, description="What the rule reacts to.")
    action: ActionName = Field(description="What to do on a match.")
    transform: TransformName | None = Field(
        None, description="For redact: how matched values are replaced (default pseudonymise)."
    )
    message: str | None = Field(
        None,
        description="For block and require_exception: what the caller reads; "
        "{classes} and {rule} are filled in (never values).",
    )
    reroute: Reroute | None = Field(None, description="For reroute: the target model.")
    log: bool = Field(False, description="Mark decisions this rule took part in as logged.")
    shadow: bool = Field(False, description="Decide and record, but do not enforce.")

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.id is not None and not valid_id(self.id):
            raise ValueError("id: use lower-case letters, digits, '_', '.', '-'")
        if self.id is not None and self.id.startswith("model."):
            raise ValueError("id: the prefix model. is reserved for built-in rules")
        if self.transform is not None and self.action != "redact":
            raise ValueError("transform applies only to action: redact")
        if self.message is not None and self.action not in ("block", "require_exception"):
            raise ValueError("message applies only to block and require_exception")
        if (self.reroute is None) != (self.action != "reroute"):
            raise ValueError("action: reroute needs reroute: {to: MODEL}, and only it")
        if self.action == "redact" and self.match.classes is None:
            raise ValueError("a redact rule needs match.classes: the classes to redact")
        if self.match.where is not None and "output" in self.match.where:
            self._check_output_rule()
        return self

    @property
    def acts_on_output(self) -> bool:
        """Whether the rule acts on the model's answer (``match.where: [output]``)."""
        return self.match.where is not None and "output" in self.match.where

    def _check_output_rule(self) -> None:
        if self.match.where != ["output"]:
            raise ValueError(
                "where: output rules act on the answer; give where: [output] alone "
                "(a separate rule covers the request)"
            )
        if self.action not in ("redact", "block"):
            raise ValueError("an output rule (where: [output]) can only redact or block")
        if self.transform not in (None, "mask", "drop", "hash"):
            raise ValueError("transform: an output rule masks, drops or hashes (default mask)")
        if self.match.min_score or self.match.min_count != 1:
            raise ValueError(
                "min_score and min_count do not apply to output rules (class thresholds do)"
            )
        if self.message is not None:
            raise ValueError("message does not apply to output rules")
        if self.log:
            raise ValueError("log does not apply to output rules")


class ClassSetting(_Strict):
    mode: Literal["enforce", "monitor"] = Field(
        "enforce",
        description="monitor: found and recorded, never acted on (rules do not see it).",
    )
    sensitivity: Sensitivity | None = Field(
        None, description="Overrides the class's default sensitivity (bastion classes)."
    )


class ApprovedModel(_Strict):
    max_sensitivity: Sensitivity = Field(
        "restricted", description="The most sensitive data that may reach this model."
    )
    deny_classes: Globs = Field(
        default_factory=list, description="Classes that must never reach this model."
    )


class ExceptionScope(_Strict):
    app: str | None = None
    team: str | None = None
    user: str | None = None
    key_id: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ExceptionScope:
        if not any((self.app, self.team, self.user, self.key_id)):
            raise ValueError("scope needs at least one of app, team, user, key_id")
        return self


class StaticException(_Strict):
    id: str = Field(description="Exception id, shown in x-bastion-exception.")
    rule: str = Field(description="The rule it waives (or model.max_sensitivity, ...).")
    scope: ExceptionScope = Field(description="Who it covers; every field given must match.")
    justification: str = Field(min_length=1, description="Why it exists.")
    owner: str | None = Field(None, description="Who answers for it.")
    approver: str | None = Field(None, description="Who approved it.")
    expires: datetime = Field(description="When it stops applying (ISO-8601, with zone).")

    @model_validator(mode="after")
    def _valid(self) -> StaticException:
        if not valid_id(self.id):
            raise ValueError("id: use lower-case letters, digits, '_', '.', '-'")
        if self.expires.tzinfo is None:
            raise ValueError("expires: give a time zone, e.g. 2027-01-31T00:00:00Z")
        return self


class FindingCase(_Strict):
    class_: str = Field(alias="class", description="Data class found.")
    where: Where | Literal["request"] = "user"
    score: float = Field(1.0, ge=0, le=1)
    count: int = Field(1, ge=1)
    dummy: bool = Field(False, description="A documented example or filler credential.")


class Expectation(_Strict):
    decision: Literal["allow", "redact", "block", "reroute", "require_exception"]
    rules: list[str] | None = Field(None, description="Exactly these rules decided it.")
    model: str | None = Field(None, description="The model the call goes to.")
    redacted: list[str] | None = Field(None, description="Exactly these classes redacted.")
    code: str | None = Field(None, description="Error code of a refusal.")
    shadow_decision: str | None = Field(None, description="The shadow decision, if any.")
    exception: str | None = Field(None, description="The exception applied.")
    tools_stripped: list[str] | None = Field(
        None, description="Exactly these of the offered tools are stripped (tools rules)."
    )
    output: dict[str, Literal["allow", "redact", "block"]] | None = Field(
        None, description="What output rules do to each class found in the answer."
    )


class PolicyTest(_Strict):
    name: str = Field(description="What the case shows.")
    principal: dict[str, str | list[str]] = Field(
        default_factory=dict, description="Principal fields (key_id, app, team, roles, ...)."
    )
    request: dict[str, Any] | None = Field(
        None, description="A raw request body; detectors run on it."
    )
    endpoint: EndpointName = "chat.completions"
    findings: list[FindingCase] | None = Field(
        None, description="Canned findings instead of a request."
    )
    model: str | None = Field(None, description="Model asked for (with findings).")
    tools: list[str] = Field(default_factory=list)
    exception: str | None = Field(None, description="Exception the request names.")
    at: datetime | None = Field(None, description="When the call happens (default: now).")
    expect: Expectation

    @model_validator(mode="after")
    def _one_input(self) -> PolicyTest:
        if (self.request is None) == (self.findings is None):
            raise ValueError("give either request or findings")
        if self.findings is not None and self.model is None:
            raise ValueError("a case with findings needs model")
        return self


RESERVED_TOOL_RULES = frozenset(
    {"tools.offer", "tools.max_calls", "tools.arguments", NOT_OFFERED_RULE}
)
"""Built-in tool rule ids: no offer entry matched the caller, too many calls per answer,
arguments unreadable with no entry to name, a call to a tool the request did not offer."""


def _check_tool_rule_id(value: str) -> None:
    if not valid_id(value):
        raise ValueError("id: use lower-case letters, digits, '_', '.', '-'")
    if value.startswith("model.") or value in RESERVED_TOOL_RULES:
        raise ValueError(f"id: {value!r} is reserved for a built-in rule")


class ToolMatch(_Strict):
    """Whom an ``offer`` entry is for: principal fields and models, as in a rule's match."""

    key_id: Globs | None = Field(None, description="Principal: gateway key id.")
    name: Globs | None = Field(None, description="Principal: key name.")
    user: Globs | None = Field(None, description="Principal: user.")
    app: Globs | None = Field(None, description="Principal: app.")
    team: Globs | None = Field(None, description="Principal: team (department).")
    environment: Globs | None = Field(None, description="Principal: environment.")
    owner: Globs | None = Field(None, description="Principal: app owner.")
    roles: Globs | None = Field(None, description="Principal: holds any of these roles.")
    models: Globs | None = Field(None, description="Public model name the call goes to.")


class ToolOffer(_Strict):
    """Which tools one set of callers may offer to the model."""

    id: str = Field(description="Rule id a refused tool or call names ([a-z0-9_.-]).")
    description: str | None = Field(None, description="What the entry is for (docs only).")
    match: ToolMatch = Field(
        default_factory=ToolMatch, description="Whom it is for; empty: every caller."
    )
    allow: Globs = Field(description="Tool names (globs) these callers may offer.")

    @model_validator(mode="after")
    def _valid(self) -> ToolOffer:
        _check_tool_rule_id(self.id)
        return self


class ArgumentCheck(_Strict):
    """Checks on one top-level argument of a tool call (strings; lists item by item)."""

    domains: Globs | None = Field(
        None,
        description="The value is an http(s) URL whose host matches one of these "
        "(`*.example.com`: any subdomain).",
    )
    no_shell: bool = Field(False, description="No shell metacharacters (; | & $ ` < > ...).")
    pattern: str | None = Field(None, description="RE2 expression the whole value must match.")
    max_length: int | None = Field(None, ge=1, description="At most this many characters.")

    @model_validator(mode="after")
    def _some_check(self) -> ArgumentCheck:
        given = (self.domains is not None, self.no_shell, self.pattern is not None)
        if not any(given) and self.max_length is None:
            raise ValueError("give at least one of domains, no_shell, pattern, max_length")
        return self


class ToolConstraint(_Strict):
    """What a tool call's arguments must look like."""

    id: str = Field(description="Rule id a refused call names ([a-z0-9_.-]).")
    description: str | None = Field(None, description="What the constraint is for (docs only).")
    tool: Globs = Field(description="The tool it constrains: a name or a glob.")
    schema_: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON Schema the arguments object must satisfy."
    )
    arguments: dict[str, ArgumentCheck] = Field(
        default_factory=dict, description="Top-level argument name → checks."
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> ToolConstraint:
        _check_tool_rule_id(self.id)
        if self.schema_ is None and not self.arguments:
            raise ValueError("give schema, arguments or both")
        return self


class ToolsSection(_Strict):
    """Which tools callers may offer and call, and with what arguments."""

    on_disallowed_offer: Literal["strip", "refuse"] = Field(
        "strip",
        description="A tool the caller may not offer: strip it from the request, or "
        "refuse the call (403 policy_violation).",
    )
    on_disallowed_call: Literal["remove", "refuse"] = Field(
        "remove",
        description="A tool call the model may not make: remove it from the answer, or "
        "refuse the whole answer.",
    )
    max_calls_per_answer: int | None = Field(
        None, ge=1, description="At most this many tool calls per answer (per choice)."
    )
    offer: list[ToolOffer] | None = Field(
        None,
        description="Ordered; the first entry whose match holds decides. Given but none "
        "matches: no tool may be offered (rule tools.offer). Absent: every tool may.",
    )
    constraints: list[ToolConstraint] = Field(
        default_factory=list, description="Argument rules; every one naming a tool applies."
    )


class OutputSection(_Strict):
    """How answers are held while output rules scan them."""

    mode: Literal["window", "buffer"] = Field(
        "window",
        description="window: a stream is released in windows, each scanned first; "
        "buffer: the whole answer is held and scanned before any of it is sent.",
    )
    window_chars: int = Field(
        256, ge=32, le=65536, description="Characters of answer text per window."
    )


class PolicyDocument(_Strict):
    name: str = Field(description="Policy name, shown in x-bastion-policy.")
    version: str = Field("1", description="Version label, e.g. 2026-12-01 or v3.")
    description: str | None = Field(None, description="What the policy is for.")
    shadow: bool = Field(False, description="Decide and record every call, enforce nothing.")
    classes: dict[str, ClassSetting] = Field(
        default_factory=dict,
        description="Per class or glob: mode and sensitivity (exact names beat globs).",
    )
    models: dict[str, ApprovedModel] | None = Field(
        None,
        description="Approved models; when given, any other model is refused "
        "(rule model.unapproved).",
    )
    rules: list[Rule] = Field(default_factory=list, description="Rules, in order.")
    tools: ToolsSection | None = Field(
        None, description="Tool control: what may be offered and called; absent: anything."
    )
    output: OutputSection | None = Field(
        None, description="How output rules (match.where: [output]) hold answers."
    )
    exceptions: list[StaticException] = Field(
        default_factory=list, description="Static exceptions."
    )
    tests: list[PolicyTest] = Field(
        default_factory=list, description="Cases `bastion policy test` runs."
    )
