"""Who may call which admin API route: the one table the API enforces (CONTRACT.md §1).

Keys are route names (the OpenAPI ``operationId``). ``auditor`` is read-only everywhere;
``app_owner`` reaches only its own keys, usage, budgets and exception requests (the
governance service narrows what it sees and may change to what it owns). A route
missing here cannot be served: building the app fails.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.identity.admin import AdminRole

ADMIN, SECURITY, AUDITOR, APP_OWNER = (
    AdminRole.ADMIN,
    AdminRole.SECURITY,
    AdminRole.AUDITOR,
    AdminRole.APP_OWNER,
)
EVERYONE = frozenset({ADMIN, SECURITY, AUDITOR, APP_OWNER})
READERS = frozenset({ADMIN, SECURITY, AUDITOR})
GOVERNORS = frozenset({ADMIN, SECURITY})
ADMINS = frozenset({ADMIN})
OWNERS_TOO = frozenset({ADMIN, SECURITY, APP_OWNER})

PERMISSIONS: Mapping[str, frozenset[AdminRole]] = {
    # identity and the document itself
    "whoami": EVERYONE,
    "openapi": EVERYONE,
    # gateway diagnostics
    "calls.recent": READERS,
    "overhead.read": READERS,
    "overhead.reset": GOVERNORS,
    # gateway keys (app owners: their own)
    "keys.list": EVERYONE,
    "keys.get": EVERYONE,
    "keys.create": OWNERS_TOO,
    "keys.revoke": OWNERS_TOO,
    "keys.rotate": OWNERS_TOO,
    # policy versions
    "policies.active": EVERYONE,
    "policies.history": EVERYONE,
    "policies.version": EVERYONE,
    "policies.validate": READERS,
    "policies.test": READERS,
    "policies.diff": READERS,
    "policies.simulate": READERS,
    "policies.replay": READERS,  # audit facts only, never content
    "policies.activate": GOVERNORS,
    "policies.rollback": GOVERNORS,
    # policy exceptions (app owners: their apps'; deny only to withdraw their own)
    "exceptions.list": EVERYONE,
    "exceptions.get": EVERYONE,
    "exceptions.request": OWNERS_TOO,
    "exceptions.approve": GOVERNORS,
    "exceptions.deny": OWNERS_TOO,
    "exceptions.revoke": GOVERNORS,
    # budgets and usage (app owners: their keys and apps)
    "budgets.list": EVERYONE,
    "usage.summary": EVERYONE,
    # audit trail
    "audit.search": READERS,
    "audit.event": READERS,
    "audit.content": READERS,  # encrypted: audit.decrypt_roles, when the API may decrypt
    "audit.verification.read": READERS,
    "audit.verification.run": READERS,
    # overview metrics
    "metrics.calls": READERS,
    "metrics.injections": READERS,
    "metrics.exceptions": READERS,
    "metrics.spend": READERS,
    "metrics.overhead": READERS,
    # console sessions (as bastion console sessions / sign-out)
    "console.sessions": GOVERNORS,
    "console.sign_out": ADMINS,
}
