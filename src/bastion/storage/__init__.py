"""Persistence on SQLAlchemy (SQLite by default, PostgreSQL for several replicas)."""

from bastion.storage.admin_tokens import AdminTokenRepository, StoredAdminToken
from bastion.storage.call_records import CallRecordRepository
from bastion.storage.changes import ChangeFeed, ChangeKind
from bastion.storage.database import Database
from bastion.storage.exceptions import ExceptionRepository, StoredException
from bastion.storage.keys import KeyRepository, KeyStatus, StoredKey
from bastion.storage.policies import (
    ActivationReason,
    PolicyActivation,
    PolicyRepository,
    PolicyVersion,
)
from bastion.storage.spend import SpendLedgerRepository

__all__ = [
    "ActivationReason",
    "AdminTokenRepository",
    "CallRecordRepository",
    "ChangeFeed",
    "ChangeKind",
    "Database",
    "ExceptionRepository",
    "KeyRepository",
    "KeyStatus",
    "PolicyActivation",
    "PolicyRepository",
    "PolicyVersion",
    "SpendLedgerRepository",
    "StoredAdminToken",
    "StoredException",
    "StoredKey",
]
