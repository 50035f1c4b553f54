"""Gateway key routes: list, show, create, revoke and rotate (``pipeline.governance``
enforces who may touch which key; app owners see only keys they own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from bastion.errors import InvalidRequest
from bastion.identity.issuing import (
    MAX_FIELD_CHARS,
    MAX_GRACE,
    MAX_MODELS,
    MAX_ROLES,
    IssuedKey,
    KeySpec,
)
from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.paging import Cursor, Limit, Page, page_in_memory
from bastion.server.admin_api.params import UtcTime
from bastion.server.admin_api.routing import Route
from bastion.storage.keys import StoredKey

Text = Annotated[str, Field(min_length=1, max_length=MAX_FIELD_CHARS)]
KeyId = Annotated[str, Path(min_length=1, max_length=64, description="The key's id.")]
MAX_GRACE_S = MAX_GRACE.total_seconds()


class KeyInfo(BaseModel):
    """A gateway key's principal, models and lifecycle (never its secret or hash)."""

    id: str
    name: str
    user: str | None
    app: str | None
    team: str | None
    environment: str
    roles: list[str]
    owner: str | None
    models: list[str]
    trust_end_user: bool
    status: str = Field(description="active, grace, replaced, revoked or expired.")
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    grace_until: datetime | None


class KeyList(Page[KeyInfo]):
    """Keys, oldest first."""


class NewKey(BaseModel):
    """A key to create: only ``name`` is required (CONTRACT.md §1)."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    user: Text | None = None
    app: Text | None = None
    team: Text | None = None
    environment: Text = "dev"
    roles: list[Text] = Field(default_factory=list, max_length=MAX_ROLES)
    owner: Text | None = Field(
        None, description="Admin subject that owns the app (app owners: their own subject)."
    )
    models: list[Text] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        max_length=MAX_MODELS,
        description="* = every one.",
    )
    trust_end_user: bool = False
    expires_at: UtcTime | None = Field(None, description="ISO-8601 with a time zone.")


class Rotation(BaseModel):
    """How long the old secret keeps working after a rotation."""

    model_config = ConfigDict(extra="forbid")

    grace_s: float = Field(0, ge=0, le=MAX_GRACE_S, description="Seconds; 0 stops it now.")


class IssuedKeyInfo(KeyInfo):
    """A key just created or rotated, with its secret: shown once, store it now."""

    key: str = Field(description="The secret key (bst_...). Bastion keeps only its hash.")
    replaces: str | None = None
    old_key_valid_until: datetime | None = None
    warnings: list[str] = Field(default_factory=list)


def key_info(key: StoredKey, now: datetime) -> KeyInfo:
    """A stored key as the API shows it."""
    return KeyInfo(
        id=key.key_id,
        name=key.name,
        user=key.user,
        app=key.app,
        team=key.team,
        environment=key.environment,
        roles=list(key.roles),
        owner=key.owner,
        models=list(key.models),
        trust_end_user=key.trust_end_user,
        status=key.status(now).value,
        created_at=key.created_at,
        created_by=key.created_by,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        replaced_by=key.replaced_by,
        grace_until=key.grace_until,
    )


def _issued(issued: IssuedKey, **extra: object) -> IssuedKeyInfo:
    info = key_info(issued.stored, datetime.now(UTC))
    return IssuedKeyInfo(**info.model_dump(), key=issued.plaintext, **extra)


async def list_keys(
    actor: Actor,
    context: Ctx,
    limit: Limit = 100,
    cursor: Cursor = None,
    include_revoked: Annotated[
        bool, Query(description="Also revoked keys and rotated keys past their grace.")
    ] = False,
) -> KeyList:
    """Keys the caller may see (app owners: those they own), oldest first."""
    found = await context.governance.list_keys(actor, include_revoked=include_revoked)
    page, following = page_in_memory(
        found,
        lambda key: (key.created_at.isoformat(), key.key_id),
        limit=limit,
        cursor=cursor,
        kinds=(str, str),
    )
    now = datetime.now(UTC)
    data = [key_info(key, now) for key in page]
    return KeyList(data=data, has_more=following is not None, next_cursor=following)


async def get_key(actor: Actor, context: Ctx, key_id: KeyId) -> KeyInfo:
    """One key (404 for keys the caller may not see)."""
    return key_info(await context.governance.get_key(actor, key_id), datetime.now(UTC))


async def create_key(actor: Actor, context: Ctx, body: NewKey) -> IssuedKeyInfo:
    """Create a key; the response holds its secret, shown this once."""
    now = datetime.now(UTC)
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidRequest("expires_at is in the past", param="expires_at")
    models = ("*",) if "*" in body.models else tuple(dict.fromkeys(body.models))
    try:
        spec = KeySpec(
            name=body.name,
            environment=body.environment,
            user=body.user,
            app=body.app,
            team=body.team,
            roles=tuple(dict.fromkeys(body.roles)),
            owner=body.owner,
            models=models,
            trust_end_user=body.trust_end_user,
            expires_at=body.expires_at,
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    issued = await context.governance.create_key(actor, spec)
    configured = context.runtime.config.models
    unknown = [m for m in models if m != "*" and m not in configured]
    warnings = [f"not configured models: {', '.join(unknown)}"] if unknown else []
    return _issued(issued, warnings=warnings)


async def revoke_key(actor: Actor, context: Ctx, key_id: KeyId) -> KeyInfo:
    """Revoke a key now (gateways stop accepting it within about a second)."""
    return key_info(await context.governance.revoke_key(actor, key_id), datetime.now(UTC))


async def rotate_key(
    actor: Actor, context: Ctx, key_id: KeyId, body: Rotation | None = None
) -> IssuedKeyInfo:
    """Replace a key with a new secret (same principal, models and expiry).

    The old secret keeps working for `grace_s` seconds (default 0: it stops now).
    """
    grace = timedelta(seconds=(body or Rotation()).grace_s)
    issued = await context.governance.rotate_key(actor, key_id, grace=grace)
    return _issued(issued, replaces=key_id, old_key_valid_until=issued.old_valid_until)


ROUTES = (
    Route("GET", "/keys", list_keys, "keys.list", (400,)),
    Route("POST", "/keys", create_key, "keys.create", (400,), status_code=201),
    Route("GET", "/keys/{key_id}", get_key, "keys.get", (400, 404)),
    Route("POST", "/keys/{key_id}/revoke", revoke_key, "keys.revoke", (400, 404, 409)),
    Route("POST", "/keys/{key_id}/rotate", rotate_key, "keys.rotate", (400, 404, 409)),
)
