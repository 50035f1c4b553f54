"""Pure value objects shared by every stage; this package imports nothing of Bastion."""

from bastion.model.audit import CallRecord, CallStatus, FindingSummary
from bastion.model.conversation import Conversation, Endpoint, Segment, Source
from bastion.model.decision import Action, Decision
from bastion.model.finding import Finding
from bastion.model.principal import AuthenticatedKey, Principal
from bastion.model.usage import Usage

__all__ = [
    "Action",
    "AuthenticatedKey",
    "CallRecord",
    "CallStatus",
    "Conversation",
    "Decision",
    "Endpoint",
    "Finding",
    "FindingSummary",
    "Principal",
    "Segment",
    "Source",
    "Usage",
]
