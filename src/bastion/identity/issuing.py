"""Issuing gateway keys: create, rotate and revoke on behalf of an admin identity.

Shared by the CLI and the admin API so both enforce the same role rules. The
plaintext key exists only in the returned ``IssuedKey``; the store gets its hash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bastion.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from bastion.identity.admin import AdminIdentity
from bastion.identity.keys import GATEWAY_KEY, hash_secret
from bastion.storage.keys import KeyRepository, KeyStatus, StoredKey

MAX_FIELD_CHARS = 200
"""Longest name, principal field, role or model name of a key (CLI and admin API)."""
MAX_ROLES = 50
MAX_MODELS = 200
MAX_GRACE = timedelta(days=90)
"""Longest time a rotated key's old secret keeps working."""


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What a new key grants: its principal fields, models and lifetime."""

    name: str
    environment: str = "dev"
    user: str | None = None
    app: str | None = None
    team: str | None = None
    roles: tuple[str, ...] = ()
    owner: str | None = None
    models: tuple[str, ...] = ("*",)
    trust_end_user: bool = False
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a key needs a non-empty name")
        if not self.environment.strip():
            raise ValueError("a key needs an environment")
        if not self.models:
            raise ValueError("a key needs at least one model (or '*')")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just stored, and its plaintext: show it once, never store or log it."""

    stored: StoredKey
    plaintext: str
    old_valid_until: datetime | None = None
    """After a rotation with a grace: when the replaced key stops working (as stored)."""


def _check_sizes(spec: KeySpec) -> None:
    """The admin API's bounds, for keys from the CLI too (a rotation keeps old values):
    no field too long, none given but blank."""
    if len(spec.roles) > MAX_ROLES:
        raise InvalidRequest(f"a key has at most {MAX_ROLES} roles", param="roles")
    if len(spec.models) > MAX_MODELS:
        raise InvalidRequest(f"a key names at most {MAX_MODELS} models", param="models")
    fields = {
        "name": (spec.name,),
        "environment": (spec.environment,),
        "user": (spec.user,),
        "app": (spec.app,),
        "team": (spec.team,),
        "owner": (spec.owner,),
        "roles": spec.roles,
        "models": spec.models,
    }
    for field, values in fields.items():
        if any(value is not None and len(value) > MAX_FIELD_CHARS for value in values):
            raise InvalidRequest(f"{field}: at most {MAX_FIELD_CHARS} characters", param=field)
        if any(value is not None and not value.strip() for value in values):
            # "" is not "none": policies, budgets and filters would treat it as a value
            raise InvalidRequest(f"{field}: empty; leave it out instead", param=field)


def _check_may_manage(actor: AdminIdentity, owner: str | None) -> None:
    if not actor.may_manage_keys_of(owner):
        raise PermissionDenied(
            f"role {actor.role.value!r} may not manage this key; app owners manage only "
            "keys whose --owner is their subject, auditors none",
            code="admin_role_required",
        )


def _new_stored_key(spec: KeySpec, created_by: str, now: datetime) -> IssuedKey:
    key_id, plaintext = GATEWAY_KEY.generate()
    parsed = GATEWAY_KEY.parse(plaintext)
    assert parsed is not None
    stored = StoredKey(
        key_id=key_id,
        name=spec.name,
        secret_hash=hash_secret(parsed[1]),
        created_at=now,
        created_by=created_by,
        environment=spec.environment,
        user=spec.user,
        app=spec.app,
        team=spec.team,
        roles=spec.roles,
        owner=spec.owner,
        models=spec.models,
        trust_end_user=spec.trust_end_user,
        expires_at=spec.expires_at,
    )
    return IssuedKey(stored=stored, plaintext=plaintext)


async def create_key(repo: KeyRepository, spec: KeySpec, *, actor: AdminIdentity) -> IssuedKey:
    """Store a new key for ``spec``; PermissionDenied when ``actor`` may not,
    InvalidRequest when a field is blank or longer than the admin API accepts."""
    _check_sizes(spec)
    _check_may_manage(actor, spec.owner)
    issued = _new_stored_key(spec, actor.subject, datetime.now(UTC))
    await repo.create(issued.stored)
    return issued


async def _active_key(repo: KeyRepository, key_id: str, actor: AdminIdentity) -> StoredKey:
    stored = await repo.get(key_id)
    if stored is None or not actor.may_see_key_of(stored.owner):
        raise NotFound(f"no key with id {key_id[:64]!r}", code="key_not_found")
    _check_may_manage(actor, stored.owner)
    status = stored.status(datetime.now(UTC))
    if status is not KeyStatus.ACTIVE:
        raise Conflict(_not_active(stored, status), code="key_not_active", status=409)
    return stored


def _not_active(stored: StoredKey, status: KeyStatus) -> str:
    """Why a key can no longer be rotated, and what to do instead."""
    if status in (KeyStatus.GRACE, KeyStatus.REPLACED):
        return (
            f"key {stored.key_id!r} was already rotated (replaced by {stored.replaced_by!r}); "
            "rotate that key instead"
        )
    if status is KeyStatus.EXPIRED:
        return f"key {stored.key_id!r} has expired; create a new key instead"
    return f"key {stored.key_id!r} is revoked; create a new key instead"


async def revoke_key(repo: KeyRepository, key_id: str, *, actor: AdminIdentity) -> None:
    """Revoke ``key_id`` now; NotFound / Conflict when it is unknown or already revoked."""
    stored = await repo.get(key_id)
    if stored is None or not actor.may_see_key_of(stored.owner):
        raise NotFound(f"no key with id {key_id[:64]!r}", code="key_not_found")
    _check_may_manage(actor, stored.owner)
    if not await repo.revoke(key_id, datetime.now(UTC)):
        raise Conflict(f"key {key_id!r} is already revoked", code="key_not_active", status=409)


async def rotate_key(
    repo: KeyRepository, key_id: str, *, grace: timedelta, actor: AdminIdentity
) -> IssuedKey:
    """A new key with the same principal, models and expiry date; the old one keeps
    working for ``grace`` (zero: stops now). Only an active key can be rotated."""
    if grace < timedelta(0):
        raise ValueError("grace cannot be negative")
    if grace > MAX_GRACE:  # a typo (900d) would leave the old secret working for years
        raise InvalidRequest(f"grace: at most {MAX_GRACE.days} days", param="grace_s")
    old = await _active_key(repo, key_id, actor)
    now = datetime.now(UTC)
    spec = KeySpec(
        name=old.name,
        environment=old.environment,
        user=old.user,
        app=old.app,
        team=old.team,
        roles=old.roles,
        owner=old.owner,
        models=old.models,
        trust_end_user=old.trust_end_user,
        expires_at=old.expires_at,
    )
    issued = _new_stored_key(spec, actor.subject, now)
    if not await repo.rotate(key_id, issued.stored, grace_until=now + grace):
        raise Conflict(
            f"key {key_id!r} changed meanwhile; retry", code="key_not_active", status=409
        )
    if not grace:
        return issued
    ends = [now + grace] + ([old.expires_at] if old.expires_at is not None else [])
    return replace(issued, old_valid_until=min(ends))  # an expiry within the grace wins
