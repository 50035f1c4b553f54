"""Policy routes: the store's active version and history, checking, testing and comparing
texts and versions, and activation and rollback (``pipeline.governance``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Path

from bastion.errors import ConfigError, NotFound
from bastion.pipeline.active_policy import compile_version
from bastion.pipeline.guardrails import policy_from_text
from bastion.pipeline.request_facts import RequestFacts
from bastion.policy.diff import diff_policies
from bastion.policy.loader import Policy
from bastion.policy.testing import Case, case_file_cases, inline_cases, run_cases
from bastion.server.admin_api.context import Actor, AdminContext, Ctx
from bastion.server.admin_api.paging import Cursor, Limit, decode_cursor, encode_cursor
from bastion.server.admin_api.policy_models import (
    Activate,
    ActivationHistory,
    ActivationInfo,
    ActivationResult,
    ActivePolicyInfo,
    DiffRequest,
    PolicyDiffInfo,
    PolicyRef,
    PolicyTestReport,
    PolicyTestRun,
    PolicyUpload,
    PolicyVersionDetail,
    PolicyVersionInfo,
    RollbackResult,
    Validation,
)
from bastion.server.admin_api.routing import Route
from bastion.storage.policies import PolicyVersion

UPLOAD_SOURCE = "uploaded-policy.yaml"
TESTS_SOURCE = "uploaded-tests.yaml"
VersionRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="A version id, 8+ hex digits of its digest, or name@label+digest.",
    ),
]


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A policy compiled for the running config, with the text it came from."""

    policy: Policy
    text: str
    source: str


def _no_active() -> NotFound:
    return NotFound(
        "no policy is active; activate one (POST /admin/api/policies/activate)",
        code="policy_not_found",
    )


async def load_policy(context: AdminContext, ref: PolicyRef | None) -> LoadedPolicy:
    """``ref`` (default: the active version) compiled for the running config; 400
    ``invalid_policy`` when it does not compile, 404 when there is no such version."""
    config = context.runtime.config
    repository = context.governance.policies
    version: PolicyVersion
    if ref is not None and ref.content is not None:
        source = ref.source or UPLOAD_SOURCE
        return LoadedPolicy(policy_from_text(config, ref.content, source), ref.content, source)
    if ref is not None and ref.version is not None:
        version = await repository.get(ref.version)
    else:
        active = await repository.active()
        if active is None:
            raise _no_active()
        version = active.version
    source = version.source or f"policy-v{version.id}"
    return LoadedPolicy(compile_version(config, version), version.content, source)


def policy_cases(loaded: LoadedPolicy, tests: str | None) -> list[Case]:
    """The policy's own ``tests:`` and those of a test file's text."""
    known = loaded.policy.compiled.defaults
    cases = inline_cases(loaded.text, loaded.source, loaded.policy.document, known)
    if tests is not None:
        cases += case_file_cases(tests, TESTS_SOURCE, known)
    return cases


async def active_policy(actor: Actor, context: Ctx) -> ActivePolicyInfo:
    """The store's active version with its text, and the version this gateway enforces."""
    active = await context.governance.policies.active()
    if active is None:
        raise _no_active()
    info = ActivationInfo.of(active)
    in_force = context.runtime.gateway.parts.decider.version
    return ActivePolicyInfo(**info.model_dump(), content=active.version.content, in_force=in_force)


async def policy_history(
    actor: Actor, context: Ctx, limit: Limit = 20, cursor: Cursor = None
) -> ActivationHistory:
    """Activations, newest first: when, by whom, why, which version."""
    after = decode_cursor(cursor, (int,))
    before = int(after[0]) if after is not None else None
    found = await context.governance.policies.history(limit + 1, before=before)
    page = found[:limit]
    following = encode_cursor((page[-1].id,)) if len(found) > limit and page else None
    return ActivationHistory(
        data=[ActivationInfo.of(activation) for activation in page],
        has_more=following is not None,
        next_cursor=following,
    )


async def policy_version(actor: Actor, context: Ctx, ref: VersionRef) -> PolicyVersionDetail:
    """One stored version with its text."""
    repository = context.governance.policies
    version = await repository.get(ref)
    active = await repository.active()
    is_active = active is not None and active.version.id == version.id
    info = PolicyVersionInfo.of(version)
    return PolicyVersionDetail(**info.model_dump(), active=is_active, content=version.content)


async def validate_policy(actor: Actor, context: Ctx, body: PolicyUpload) -> Validation:
    """Check a policy text (and its test file) against this gateway's classes and models.

    An invalid policy is an answer, not an error: `ok` is false and `error` says where.
    """
    source = body.source or UPLOAD_SOURCE
    try:
        policy = policy_from_text(context.runtime.config, body.content, source)
        cases = policy_cases(LoadedPolicy(policy, body.content, source), body.tests)
    except ConfigError as exc:
        return Validation(ok=False, error=str(exc))
    return Validation(
        ok=True,
        version=policy.version,
        rules=len(policy.document.rules),
        exceptions=len(policy.document.exceptions),
        tests=len(cases),
    )


async def test_policy(actor: Actor, context: Ctx, body: PolicyTestRun) -> PolicyTestReport:
    """Run a policy's test cases through this gateway's detectors (default: the active
    version); `ok` is false when a case failed or none ran."""
    loaded = await load_policy(context, body.policy)
    cases = policy_cases(loaded, body.tests)
    runtime = context.runtime
    facts = RequestFacts(runtime.config, runtime.gateway.parts.wire, runtime.guardrails.inspector)
    report = run_cases(loaded.policy, cases, facts.of_case, time.time())
    return PolicyTestReport.model_validate(report.to_json())


async def diff_policy(actor: Actor, context: Ctx, body: DiffRequest) -> PolicyDiffInfo:
    """What changes from `old` (default: the active version) to `new`, by rule id."""
    old = await load_policy(context, body.old)
    new = await load_policy(context, body.new)
    result = diff_policies(old.policy.document, new.policy.document)
    return PolicyDiffInfo.model_validate(
        {"old": old.policy.version, "new": new.policy.version, **result.to_json()}
    )


async def activate_policy(actor: Actor, context: Ctx, body: Activate) -> ActivationResult:
    """Activate a stored version, or upload a text and activate it (admin, security).

    The policy must compile for this gateway's config; running gateways load it within
    a few seconds.
    """
    governance = context.governance
    if body.content is not None:
        source = body.source or UPLOAD_SOURCE
        version, activation = await governance.activate_policy(actor, body.content, source=source)
    else:
        assert body.version is not None
        version, activation = await governance.activate_version(actor, body.version)
    return ActivationResult(
        changed=activation is not None,
        version=PolicyVersionInfo.of(version),
        activation=ActivationInfo.of(activation) if activation is not None else None,
    )


async def rollback_policy(actor: Actor, context: Ctx) -> RollbackResult:
    """Activate again the version that was active before the current one."""
    before, activation = await context.governance.rollback_policy(actor)
    return RollbackResult(
        previous=PolicyVersionInfo.of(before.version) if before is not None else None,
        activation=ActivationInfo.of(activation),
    )


ROUTES = (
    Route("GET", "/policies/active", active_policy, "policies.active", (404,)),
    Route("GET", "/policies/history", policy_history, "policies.history", (400,)),
    Route("GET", "/policies/versions/{ref}", policy_version, "policies.version", (400, 404)),
    Route("POST", "/policies/validate", validate_policy, "policies.validate", (400,)),
    Route("POST", "/policies/test", test_policy, "policies.test", (400, 404)),
    Route("POST", "/policies/diff", diff_policy, "policies.diff", (400, 404)),
    Route("POST", "/policies/activate", activate_policy, "policies.activate", (400, 404, 409)),
    Route("POST", "/policies/rollback", rollback_policy, "policies.rollback", (409,)),
)
