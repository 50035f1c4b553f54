"""Request and response bodies of the policy routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bastion.server.admin_api.paging import Page
from bastion.storage.policies import PolicyActivation, PolicyVersion

MAX_POLICY_CHARS = 1_000_000
PolicyText = Annotated[str, Field(min_length=1, max_length=MAX_POLICY_CHARS)]
SourceName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f]+$",
        description="A name for the text in messages (`name:line: key: problem`).",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyVersionInfo(BaseModel):
    """One uploaded policy file (by content digest)."""

    id: int
    version: str = Field(description="name@label+sha256[:12], as in x-bastion-policy.")
    name: str
    label: str
    digest: str
    source: str | None
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def of(cls, version: PolicyVersion) -> PolicyVersionInfo:
        return cls(
            id=version.id,
            version=version.version,
            name=version.name,
            label=version.label,
            digest=version.digest,
            source=version.source,
            uploaded_by=version.uploaded_by,
            uploaded_at=version.uploaded_at,
        )


class PolicyVersionDetail(PolicyVersionInfo):
    """A version with its text."""

    active: bool = Field(description="Whether it is the store's active version.")
    content: str


class ActivationInfo(BaseModel):
    """A version made active: when, by whom, why."""

    activation: int
    activated_at: datetime
    activated_by: str
    reason: str = Field(description="activate, rollback or seed.")
    version: PolicyVersionInfo

    @classmethod
    def of(cls, activation: PolicyActivation) -> ActivationInfo:
        return cls(
            activation=activation.id,
            activated_at=activation.activated_at,
            activated_by=activation.activated_by,
            reason=activation.reason.value,
            version=PolicyVersionInfo.of(activation.version),
        )


class ActivePolicyInfo(ActivationInfo):
    """The store's active version, its text, and what this gateway enforces now."""

    content: str
    in_force: str | None = Field(
        description="The version this gateway decides with (differs while a change is "
        "loading, or when the active version does not compile for its config)."
    )


class ActivationHistory(Page[ActivationInfo]):
    """Activations, newest first."""


class PolicyRef(_Strict):
    """A policy: a stored version (id, digest prefix or name@label+digest) or a text."""

    version: str | None = Field(None, min_length=1, max_length=200)
    content: PolicyText | None = None
    source: SourceName | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PolicyRef:
        if (self.version is None) == (self.content is None):
            raise ValueError("give either version or content")
        return self


class PolicyUpload(_Strict):
    """A policy text to check, and optionally its test file's text."""

    content: PolicyText
    source: SourceName | None = None
    tests: PolicyText | None = Field(
        None, description="A `tests:` file's text (what `<stem>.tests.yaml` would hold)."
    )


class Validation(BaseModel):
    """Whether a policy loads with this gateway's config, and what it holds."""

    ok: bool
    error: str | None = Field(None, description="file:line: key: problem, when not ok.")
    version: str | None = None
    rules: int = 0
    exceptions: int = 0
    tests: int = 0


class PolicyTestRun(_Strict):
    """Run a policy's test cases: a stored version or a text (default: the active one)."""

    policy: PolicyRef | None = None
    tests: PolicyText | None = Field(None, description="Extra cases (a `tests:` file's text).")


class Mismatch(BaseModel):
    field: str
    expected: Any
    actual: Any


class CaseOutcome(BaseModel):
    name: str
    source: str
    passed: bool
    error: str | None
    actual: dict[str, Any]
    mismatches: list[Mismatch]


class PolicyTestReport(BaseModel):
    """A test run: every case's outcome and what no case reached."""

    policy: str
    ok: bool = Field(description="At least one case ran and none failed.")
    cases: int
    passed: int
    failed: int
    results: list[CaseOutcome]
    rules_not_reached: list[str]
    checks_not_reached: list[str]


class DiffRequest(_Strict):
    """Compare ``old`` (default: the active version) with ``new``."""

    old: PolicyRef | None = None
    new: PolicyRef


class Change(BaseModel):
    key: str
    old: Any
    new: Any


class Section(BaseModel):
    added: list[str]
    removed: list[str]
    changed: dict[str, list[Change]]
    moved: dict[str, list[int]]


class CaseCounts(BaseModel):
    old: int
    new: int


class PolicyDiffInfo(BaseModel):
    """What changed, structurally: header fields, classes, models, rules, exceptions."""

    old: str
    new: str
    same: bool
    policy: list[Change]
    classes: Section
    models: Section
    rules: Section
    exceptions: Section
    tests: CaseCounts


class Activate(_Strict):
    """Activate a stored version, or upload a text and activate it."""

    version: str | None = Field(None, min_length=1, max_length=200)
    content: PolicyText | None = None
    source: SourceName | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Activate:
        if (self.version is None) == (self.content is None):
            raise ValueError("give either version or content")
        return self


class ActivationResult(BaseModel):
    """The version now active, and its activation (None: it was active already)."""

    changed: bool
    version: PolicyVersionInfo
    activation: ActivationInfo | None


class RollbackResult(BaseModel):
    """The activation a rollback made, and the version active before it."""

    previous: PolicyVersionInfo | None
    activation: ActivationInfo
