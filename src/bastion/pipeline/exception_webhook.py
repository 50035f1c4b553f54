"""Policy exceptions as JSON, and their changes posted to ``policy.exception_webhook``.

The webhook gets ``{"event": "exception.<state>", "actor": subject, "exception": {...}}``
for every request, approval, denial and revocation, whether made from the CLI or the
admin API. A failure never undoes the change: it is reported (host and status or error
class only; the URL may carry a token) and the change stands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bastion.storage.exceptions import StoredException

WEBHOOK_TIMEOUT_S = 5.0


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def exception_to_json(stored: StoredException, now: datetime) -> dict[str, Any]:
    """An exception as JSON; ``state`` is the state at ``now``."""
    return {
        "id": stored.id,
        "rule": stored.rule,
        "scope": dict(stored.scope),
        "state": stored.status(now).value,
        "expires_at": _iso(stored.expires_at),
        "justification": stored.justification,
        "owner": stored.owner,
        "requester": stored.requester,
        "approver": stored.approver,
        "approved_at": _iso(stored.approved_at),
        "decided_by": stored.decided_by,
        "decided_at": _iso(stored.decided_at),
        "decision_note": stored.decision_note,
        "created_at": _iso(stored.created_at),
        "uses": stored.uses,
        "last_used_at": _iso(stored.last_used_at),
    }


async def post_exception_change(
    url: str, event: str, actor: str, stored: StoredException
) -> str | None:
    """POST one change to the webhook at ``url``; a warning to show when it failed."""
    payload = {
        "event": f"exception.{event}",
        "actor": actor,
        "exception": exception_to_json(stored, datetime.now(UTC)),
    }
    host = urlsplit(url).hostname or "?"
    timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=payload) as response,
        ):
            if response.status >= 300:
                return f"exception webhook at {host} answered {response.status}; the change is made"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return f"exception webhook at {host} failed ({type(exc).__name__}); the change is made"
    return None
