"""What an ``app_owner`` owns (CONTRACT.md §1): the keys whose ``owner`` is its subject,
and the apps those keys are for (plus, signed in with OIDC, the apps its provider's
apps claim names). Other roles are not limited by ownership."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.storage.keys import KeyRepository


@dataclass(frozen=True, slots=True)
class Ownership:
    """The key ids and app names one app owner answers for."""

    subject: str
    key_ids: frozenset[str]
    apps: frozenset[str]

    def covers_scope(self, scope: Mapping[str, str]) -> bool:
        """Whether an exception scope (``app``, ``team``, ``user``, ``key_id``) stays
        inside what is owned: it names an owned app or key, and every app or key it
        names is owned (team and user only narrow it further)."""
        app, key_id = scope.get("app"), scope.get("key_id")
        if app is None and key_id is None:
            return False
        return (app is None or app in self.apps) and (key_id is None or key_id in self.key_ids)

    def covers_call(self, key_id: str | None, app: str | None) -> bool:
        """Whether a call or spend entry by ``key_id`` for ``app`` is the owner's."""
        return (key_id is not None and key_id in self.key_ids) or (
            app is not None and app in self.apps
        )


async def ownership_of(actor: AdminIdentity, keys: KeyRepository) -> Ownership | None:
    """What ``actor`` owns when it is an app owner; None for roles that see everything."""
    if actor.role is not AdminRole.APP_OWNER:
        return None
    owned = [key for key in await keys.list(include_revoked=True) if key.owner == actor.subject]
    return Ownership(
        subject=actor.subject,
        key_ids=frozenset(key.key_id for key in owned),
        apps=frozenset(key.app for key in owned if key.app) | actor.apps,
    )
