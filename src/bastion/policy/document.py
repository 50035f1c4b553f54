"""The policy file's shape (YAML, ``extra="forbid"``): the minimal subset the detection
work needs — named rules that match data classes and allow, redact or block.

The policy issue extends this document (sensitivity, approved models, exceptions,
shadow mode, tests) without renaming anything here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TransformName = Literal["drop", "mask", "hash", "synthesize", "pseudonymise"]
_RULE_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleMatch(_Strict):
    classes: list[str] = Field(
        min_length=1,
        description="Data classes that trigger the rule; `*` globs, e.g. pii.* or secret.aws_*.",
    )
    min_score: float = Field(0.0, ge=0, le=1, description="Ignore findings scored below this.")


class Rule(_Strict):
    id: str | None = Field(
        None, description="Rule id shown in x-bastion-rules ([a-z0-9_.-]); default rule-<n>."
    )
    match: RuleMatch = Field(description="What the rule reacts to.")
    action: Literal["allow", "redact", "block"] = Field(description="What to do on a match.")
    transform: TransformName | None = Field(
        None, description="For redact: how matched values are replaced (default pseudonymise)."
    )
    message: str | None = Field(
        None, description="For block: the message the caller sees (no values are added)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.id is not None and (not self.id or not set(self.id) <= _RULE_ID_CHARS):
            raise ValueError("id: use lower-case letters, digits, '_', '.', '-'")
        if self.transform is not None and self.action != "redact":
            raise ValueError("transform applies only to action: redact")
        if self.message is not None and self.action != "block":
            raise ValueError("message applies only to action: block")
        return self


class PolicyDocument(_Strict):
    name: str = Field(description="Policy name, shown in x-bastion-policy.")
    version: str = Field("1", description="Version label, e.g. 2026-12-01 or v3.")
    rules: list[Rule] = Field(default_factory=list, description="Rules, in order.")
