"""Governed operations on behalf of an admin identity: gateway keys, policy versions and
policy exceptions. Shared by the CLI (``bastion keys``, ``policy activate | rollback``,
``exceptions``) and the admin API, so both enforce the same rules (CONTRACT.md §1):

* ``admin`` and ``security`` manage every key, activate and roll back policies and
  decide exceptions (the approver is never the requester: the store enforces it);
* ``app_owner`` manages the keys it owns, sees them and the exceptions of its own apps,
  requests exceptions for its own apps and may withdraw (deny) its own requests;
* ``auditor`` reads and changes nothing;
* each change is recorded on the audit trail's admin chain (:class:`AdminTrail`), and
  exception changes are also posted to ``policy.exception_webhook``;
* a policy is checked against the running config (classes, models) before it is
  uploaded or activated, as the gateway will compile it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bastion.config.schema import BastionConfig
from bastion.errors import BastionError, InvalidRequest, NotFound, PermissionDenied
from bastion.identity.admin import GOVERNORS, AdminIdentity, AdminRole, require_role
from bastion.identity.issuing import IssuedKey, KeySpec, create_key, revoke_key, rotate_key
from bastion.identity.ownership import Ownership, ownership_of
from bastion.model.exceptions import ExceptionState
from bastion.pipeline.admin_trail import AdminTrail
from bastion.policy.compiler import BUILT_IN_RULES, unwaivable
from bastion.policy.loader import Policy
from bastion.storage.database import Database
from bastion.storage.exceptions import ExceptionRepository, StoredException
from bastion.storage.keys import KeyRepository, StoredKey
from bastion.storage.policies import PolicyActivation, PolicyRepository, PolicyVersion

log = logging.getLogger("bastion.admin")

EXCEPTION_REQUESTERS = (AdminRole.ADMIN, AdminRole.SECURITY, AdminRole.APP_OWNER)
RULE_NOT_WAIVABLE = "rule_not_waivable"
"""Error code: an exception to a rule that refuses no call (an ``allow`` rule, a tool
rule, ``model.unapproved``) would waive nothing."""


class Governance:
    """Keys, policy versions and exceptions, changed on behalf of an admin identity."""

    def __init__(
        self,
        database: Database,
        config: Callable[[], BastionConfig],
        trail: AdminTrail,
        *,
        warn: Callable[[str], None] = log.warning,
    ) -> None:
        self.keys = KeyRepository(database)
        self.policies = PolicyRepository(database)
        self.exceptions = ExceptionRepository(database)
        self._config = config
        self._trail = trail
        self._warn = warn

    async def ownership(self, actor: AdminIdentity) -> Ownership | None:
        """What ``actor`` owns (app owners), or None when it is not limited to it."""
        return await ownership_of(actor, self.keys)

    # --- keys -----------------------------------------------------------------------

    async def list_keys(
        self, actor: AdminIdentity, *, include_revoked: bool = False
    ) -> list[StoredKey]:
        """Keys ``actor`` may see, oldest first (app owners: their own)."""
        stored = await self.keys.list(include_revoked=include_revoked)
        return [key for key in stored if actor.may_see_key_of(key.owner)]

    async def get_key(self, actor: AdminIdentity, key_id: str) -> StoredKey:
        """One key ``actor`` may see; NotFound otherwise (others' keys do not exist)."""
        stored = await self.keys.get(key_id)
        if stored is None or not actor.may_see_key_of(stored.owner):
            raise NotFound(f"no key with id {key_id[:64]!r}", code="key_not_found")
        return stored

    async def create_key(self, actor: AdminIdentity, spec: KeySpec) -> IssuedKey:
        """Store a new key; its plaintext is in the result only."""
        issued = await create_key(self.keys, spec, actor=actor)
        stored = issued.stored
        details = {"name": stored.name, "owner": stored.owner, "environment": stored.environment}
        await self._trail.record(actor, "key.create", stored.key_id, details)
        return issued

    async def revoke_key(self, actor: AdminIdentity, key_id: str) -> StoredKey:
        """Revoke a key now; the revoked key."""
        await revoke_key(self.keys, key_id, actor=actor)
        await self._trail.record(actor, "key.revoke", key_id)
        return await self.get_key(actor, key_id)

    async def rotate_key(self, actor: AdminIdentity, key_id: str, *, grace: timedelta) -> IssuedKey:
        """Replace a key by a new secret; the old one works for ``grace`` more."""
        issued = await rotate_key(self.keys, key_id, grace=grace, actor=actor)
        details = {"replaced_by": issued.stored.key_id, "grace_s": grace.total_seconds()}
        await self._trail.record(actor, "key.rotate", key_id, details)
        return issued

    # --- policy versions --------------------------------------------------------------

    async def activate_policy(
        self, actor: AdminIdentity, text: str, *, source: str
    ) -> tuple[PolicyVersion, PolicyActivation | None]:
        """Check ``text`` against the config, upload it and make it active; the
        activation is None when it was the active version already. ConfigError when
        it does not compile (``source`` names it in the message)."""
        from bastion.pipeline.guardrails import policy_from_text  # loads the detectors

        require_role(actor, GOVERNORS, "activate policies")
        policy = policy_from_text(self._config(), text, source)
        version, activation = await self.policies.upload_and_activate(
            text,
            name=policy.document.name,
            label=policy.document.version,
            source=source,
            by=actor.subject,
        )
        if activation is not None:
            await self._record_activation(actor, "policy.activate", activation)
        return version, activation

    async def activate_version(
        self, actor: AdminIdentity, ref: str
    ) -> tuple[PolicyVersion, PolicyActivation | None]:
        """Make a stored version (id, digest prefix or name@label+digest) active again,
        once it compiles for the running config."""
        from bastion.pipeline.active_policy import compile_version  # loads the detectors

        require_role(actor, GOVERNORS, "activate policies")
        version = await self.policies.get(ref)
        compile_version(self._config(), version)
        activation = await self.policies.activate(version.id, by=actor.subject)
        if activation is not None:
            await self._record_activation(actor, "policy.activate", activation)
        return version, activation

    async def rollback_policy(
        self, actor: AdminIdentity
    ) -> tuple[PolicyActivation | None, PolicyActivation]:
        """Activate again the version active before the current one: (before, after)."""
        require_role(actor, GOVERNORS, "roll back policies")
        before = await self.policies.active()
        activation = await self.policies.rollback(by=actor.subject)
        await self._record_activation(actor, "policy.rollback", activation)
        return before, activation

    async def _record_activation(
        self, actor: AdminIdentity, action: str, activation: PolicyActivation
    ) -> None:
        version = activation.version
        details = {"version": version.version, "activation": activation.id}
        await self._trail.record(actor, action, f"policy-v{version.id}", details)

    # --- policy exceptions ------------------------------------------------------------

    async def list_exceptions(
        self,
        actor: AdminIdentity,
        *,
        state: ExceptionState | None = None,
        app: str | None = None,
        rule: str | None = None,
        now: datetime | None = None,
    ) -> list[StoredException]:
        """Exceptions ``actor`` may see, oldest first (app owners: their own apps' and
        their own requests)."""
        found = await self.exceptions.list(state=state, app=app, rule=rule, now=now)
        owned = await self.ownership(actor)
        return [stored for stored in found if owned is None or _concerns(owned, stored)]

    async def get_exception(self, actor: AdminIdentity, exception_id: str) -> StoredException:
        """One exception ``actor`` may see; NotFound otherwise."""
        stored = await self.exceptions.get(exception_id)
        if stored is not None:
            owned = await self.ownership(actor)
            if owned is None or _concerns(owned, stored):
                return stored
        raise NotFound(f"no exception with id {exception_id[:64]!r}", code="exception_not_found")

    async def request_exception(
        self,
        actor: AdminIdentity,
        *,
        rule: str,
        scope: Mapping[str, str],
        justification: str,
        expires_at: datetime,
        owner: str | None = None,
        warnings: list[str] | None = None,
    ) -> StoredException:
        """Ask for an exception (state ``requested``); app owners only for their apps.
        What the requester should know (a rule the active policy does not have) goes to
        the warn callback and, when given, onto ``warnings``."""
        require_role(actor, EXCEPTION_REQUESTERS, "request exceptions")
        owned = await self.ownership(actor)
        if owned is not None and not owned.covers_scope(scope):
            raise PermissionDenied(
                f"{actor.subject!r} is an app owner and may request exceptions only for its "
                "own apps: scope them with an app (or key_id) of a key whose owner is "
                f"{actor.subject!r}",
                code="admin_role_required",
            )
        policy = await self._policy_in_force()
        if policy is not None and (problem := unwaivable(policy.compiled, rule)) is not None:
            raise InvalidRequest(
                f"{problem}; the active policy is {policy.version}",
                code=RULE_NOT_WAIVABLE,
                param="rule",
            )
        stored = await self.exceptions.request(
            rule=rule,
            scope=scope,
            justification=justification,
            expires_at=expires_at,
            requester=actor.subject,
            owner=owner,
        )
        await self._changed(actor, "exception.request", stored)
        if policy is not None:
            self._warn_if_no_such_rule(policy, rule, warnings)
        return stored

    async def _policy_in_force(self) -> Policy | None:
        """The active policy compiled for this config (before the first start: the file
        serve will seed the store with); None when there is none or it does not compile."""
        # The detectors load only for the operations that compile a policy (key
        # commands, which the CLI runs often, need none of them).
        from bastion.pipeline.active_policy import compile_version
        from bastion.pipeline.guardrails import load_configured_policy

        active = await self.policies.active()
        config = self._config()
        try:
            if active is not None:
                return compile_version(config, active.version)
            if config.policy.file is not None:
                return load_configured_policy(config, config.policy.file)
        except BastionError:  # a policy the config cannot compile: nothing to compare
            pass
        return None

    def _warn_if_no_such_rule(self, policy: Policy, rule: str, warnings: list[str] | None) -> None:
        """Say so when the active policy has no rule ``rule`` (nor is it a built-in
        check): the exception would waive nothing. It is kept, as it may be meant for a
        rule still to come, but a mistyped id should not pass unnoticed."""
        if rule not in {*(r.id for r in policy.compiled.rules), *BUILT_IN_RULES}:
            text = (
                f"the active policy {policy.version} has no rule {rule!r}: this "
                "exception waives nothing until a rule with that id is in force "
                "(ids are in x-bastion-rules and `bastion policy show`)"
            )
            self._warn(text)
            if warnings is not None:
                warnings.append(text)

    async def approve_exception(
        self,
        actor: AdminIdentity,
        exception_id: str,
        *,
        note: str | None = None,
        expires_at: datetime | None = None,
        warnings: list[str] | None = None,
    ) -> StoredException:
        """Approve a pending request (not one's own), until ``expires_at`` when the
        approver sets it (else until the requested expiry). Warnings as for
        ``request_exception``."""
        require_role(actor, GOVERNORS, "approve exceptions")
        pending = await self.exceptions.get(exception_id)
        policy = await self._policy_in_force() if pending is not None else None
        if pending is not None and policy is not None:
            # the policy may have changed since the request: check the rule again (an
            # exception in another state is the store's to refuse, with that state)
            problem = unwaivable(policy.compiled, pending.rule)
            requested = pending.status(datetime.now(UTC)) is ExceptionState.REQUESTED
            if problem is not None and requested:
                raise InvalidRequest(
                    f"exception {pending.id} cannot be approved: {problem}; the active policy "
                    f"is {policy.version}. Deny it instead.",
                    code=RULE_NOT_WAIVABLE,
                )
        stored = await self.exceptions.approve(
            exception_id, approver=actor.subject, note=note, expires_at=expires_at
        )
        await self._changed(actor, "exception.approve", stored)
        if policy is not None:
            self._warn_if_no_such_rule(policy, stored.rule, warnings)
        return stored

    async def deny_exception(
        self, actor: AdminIdentity, exception_id: str, *, note: str | None = None
    ) -> StoredException:
        """Deny a pending request; its requester may deny it to withdraw it."""
        if actor.role not in GOVERNORS:
            current = await self.get_exception(actor, exception_id)  # NotFound if not theirs
            if current.requester != actor.subject:
                require_role(actor, GOVERNORS, "deny others' exceptions")
        stored = await self.exceptions.deny(exception_id, decided_by=actor.subject, note=note)
        await self._changed(actor, "exception.deny", stored)
        return stored

    async def revoke_exception(
        self, actor: AdminIdentity, exception_id: str, *, note: str | None = None
    ) -> StoredException:
        """End an approved exception now."""
        require_role(actor, GOVERNORS, "revoke exceptions")
        stored = await self.exceptions.revoke(exception_id, decided_by=actor.subject, note=note)
        await self._changed(actor, "exception.revoke", stored)
        return stored

    async def _changed(self, actor: AdminIdentity, action: str, stored: StoredException) -> None:
        details = {
            "rule": stored.rule,
            "scope": dict(stored.scope),
            "state": stored.state.value,
            "expires_at": stored.expires_at.isoformat(timespec="seconds"),
        }
        await self._trail.record(actor, action, stored.id, details)
        webhook = self._config().policy.exception_webhook
        if webhook is None:
            return
        from bastion.pipeline.exception_webhook import post_exception_change  # aiohttp

        event = "requested" if action == "exception.request" else stored.state.value
        warning = await post_exception_change(
            webhook.get_secret_value(), event, actor.subject, stored
        )
        if warning is not None:
            self._warn(warning)


def _concerns(owned: Ownership, stored: StoredException) -> bool:
    """Whether an app owner may see ``stored``: it asked for it, answers for it, or it
    is scoped to one of its apps or keys."""
    if owned.subject in (stored.requester, stored.owner):
        return True
    return owned.covers_call(stored.scope_value("key_id"), stored.scope_value("app"))
