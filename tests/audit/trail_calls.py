"""The calls the audit-trail suites (integrity, verify, takeover) write: one principal,
call ``n`` as ``req_n`` a second after the one before, gpt-4o, allowed and completed.
The suites differ only in what the record carries besides."""

from __future__ import annotations

from bastion.model import CallRecord, CallStatus, FindingSummary, Principal

PRINCIPAL = Principal(key_id="k1", name="app", user="ana", app="helpdesk", team="support")


def completed_call(
    n: int, *, email_logged: bool = False, with_request_facts: bool = False
) -> CallRecord:
    """Call ``n``; ``email_logged`` adds an e-mail finding and the ``pii.log`` rule that
    acted on it, ``with_request_facts`` the facts of one user segment and no tools."""
    return CallRecord(
        f"req_{n}",
        1_700_000_000.25 + n,
        "chat.completions",
        PRINCIPAL,
        "gpt-4o",
        "gpt-4o",
        "allow",
        CallStatus.COMPLETED,
        200,
        findings=(
            (FindingSummary("pii.email", "user", "messages.0.content", 1, 0.85),)
            if email_logged
            else ()
        ),
        rules=("pii.log",) if email_logged else (),
        request_facts={"segments": [["user", 12]], "tools": []} if with_request_facts else {},
    )
