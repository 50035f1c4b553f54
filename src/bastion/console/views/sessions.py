"""Sessions: who is signed in to the console (admin and security), and, for admins,
signing one person or everyone out. Listing and sign-out are ``console.roster``'s, so
the page shows what ``bastion console sessions`` and the admin API show and ends
sessions with the same role check and ``console.sign_out`` admin event."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from starlette.responses import RedirectResponse, Response

from bastion.console import roster
from bastion.console.page import PREFIX, Action, Page, View
from bastion.console.security import PAGE_HEADERS
from bastion.console.session import SESSION_COOKIE
from bastion.errors import InvalidRequest
from bastion.storage.console_sessions import ConsoleSessionRepository

OPENED_WITH = {
    roster.ADMIN_TOKEN: "admin token",
    roster.GATEWAY_KEY: "gateway key",
    roster.OIDC: "OIDC",
}
"""How a session was opened, in words (as ``bastion console sessions`` prints it)."""
NO_ROLE = {roster.OIDC: "not recorded", roster.GATEWAY_KEY: "chat only"}
"""What a session without a stored role shows instead, by how it was opened."""


async def show(view: View) -> Response:
    """Open sessions, oldest first (``?subject=``: one person's, as sign-out takes it)."""
    subject = view.query("subject", max_chars=roster.MAX_SUBJECT_CHARS)
    listed = await roster.open_sessions(
        view.context.runtime.database, view.identity, datetime.now(UTC), subject
    )
    return view.render(
        "sessions.html",
        sessions=listed,
        per_subject=Counter(session.subject for session in listed),
        subject=subject or "",
        max_subject=roster.MAX_SUBJECT_CHARS,
        opened_with=OPENED_WITH,
        no_role=NO_ROLE,
        notice=view.query("notice"),
        ended=_count(view.query("ended")),
    )


def _count(value: str | None) -> int | None:
    """The number of ended sessions a redirect carried (anything else: none shown)."""
    return int(value) if value is not None and value.isdigit() and len(value) < 10 else None


async def sign_out(view: View) -> Response:
    """End every session of one subject (the form's ``subject``)."""
    subject = view.field("subject")
    if subject is None or len(subject) > roster.MAX_SUBJECT_CHARS:
        raise InvalidRequest(
            f"subject: give whose sessions to end (at most {roster.MAX_SUBJECT_CHARS} characters)",
            param="subject",
        )
    return await _signed_out(view, subject)


async def sign_out_everyone(view: View) -> Response:
    """End every console session, the admin's own too, once the form confirms it."""
    if view.field("confirm") is None:
        raise InvalidRequest(
            "confirm: tick the box to confirm that every session, yours too, ends now",
            param="confirm",
        )
    return await _signed_out(view, None)


async def _signed_out(view: View, subject: str | None) -> Response:
    """Sign out through ``roster`` (role check, admin event); back to the list, or to the
    login page when the admin's own session was among those ended."""
    database = view.context.runtime.database
    now = datetime.now(UTC)
    ended = await roster.sign_out(database, view.context.trail, view.identity, subject, now)
    # this request was just let in, so its last use is fresh: this reads, never writes
    if not await ConsoleSessionRepository(database).use(view.session.id_hash, now):
        response = RedirectResponse(PREFIX + "/login", status_code=303, headers=dict(PAGE_HEADERS))
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response
    return view.redirect(PAGE.path, notice="signed_out", ended=str(ended))


PAGE = Page(
    name="sessions",
    title="Sessions",
    path="/sessions",
    needs=("console.sessions",),
    actions=(
        Action("GET", "", show),
        Action("POST", "/sign-out", sign_out, "console.sign_out"),
        Action("POST", "/sign-out-everyone", sign_out_everyone, "console.sign_out"),
    ),
)
