"""Reading a call's retained content: one rule for `bastion audit show` and the admin API.

Plain content (``redacted``, ``full``) is readable by whoever may read call records.
``encrypted`` content opens only for the roles in ``audit.decrypt_roles`` and only with
the content key. Every read is an admin event on the audit chain naming the reader, the
mode and the reason given, whether it came from the command line or the admin API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bastion.audit.content import ContentSealer, read_plain
from bastion.crypto.content import ContentUnreadable
from bastion.crypto.keyring import Keyring
from bastion.identity.admin import AdminIdentity, AdminRole, require_role
from bastion.pipeline.admin_trail import AdminTrail
from bastion.storage.audit_content import StoredContent

MAX_REASON = 2000
"""Characters of a reader's reason kept with the event."""


@dataclass(frozen=True, slots=True)
class ContentRead:
    """Retained content made readable, and whether it still matches its salted digest
    (None when read without the keyring, which the check needs)."""

    document: dict[str, Any]
    intact: bool | None


async def read_content(
    stored: StoredContent,
    actor: AdminIdentity,
    *,
    ring: Keyring | None,
    decrypt_roles: Sequence[AdminRole],
    trail: AdminTrail,
    reason: str | None = None,
) -> ContentRead:
    """Open ``stored`` for ``actor`` and record the read; ``PermissionDenied`` for a role
    that may not decrypt, ``ContentUnreadable`` without the key or for altered content."""
    encrypted = stored.mode == "encrypted"
    if encrypted:
        require_role(actor, tuple(decrypt_roles), "decrypt retained content")
        if ring is None or not ring.has("content"):
            raise ContentUnreadable("encrypted content needs the content key, not held here")
    if ring is None:
        read = ContentRead(read_plain(stored), None)
    else:
        opened = ContentSealer(ring).open(stored)
        read = ContentRead(opened.document, opened.intact)
    details: dict[str, Any] = {"mode": stored.mode, "key_id": stored.key_id}
    if reason:
        details["reason"] = reason[:MAX_REASON]
    action = "content.decrypt" if encrypted else "content.read"
    await trail.record(actor, action, stored.request_id, details)
    return read
