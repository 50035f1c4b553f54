"""Who is calling: gateway keys (hashing, lookup, rotation) and admin identities."""

from bastion.identity.admin import (
    AdminAuthenticator,
    AdminIdentity,
    AdminRole,
    resolve_cli_admin,
)
from bastion.identity.changes import ChangeNotifier, PollingChangeNotifier
from bastion.identity.keys import generate_key, hash_secret, parse_key
from bastion.identity.verifier import KeyVerifier

__all__ = [
    "AdminAuthenticator",
    "AdminIdentity",
    "AdminRole",
    "ChangeNotifier",
    "KeyVerifier",
    "PollingChangeNotifier",
    "generate_key",
    "hash_secret",
    "parse_key",
    "resolve_cli_admin",
]
