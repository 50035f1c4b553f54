"""Console session routes: who is signed in to the web console, and signing them out
(everyone, or one person), as ``bastion console sessions`` and ``sign-out`` do: the
same listing, role checks and ``console.sign_out`` admin event (``console.roster``).
Nothing answered would open a session: no cookie, session id or hash of one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bastion.console import roster
from bastion.errors import InvalidRequest
from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.paging import Cursor, Limit, Page, page_in_memory
from bastion.server.admin_api.routing import Route

_SUBJECT = (
    "An OIDC user's subject, or an admin token's subject (the sessions of each of its "
    "tokens); a token or gateway key id: the sessions opened with it."
)
Subject = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=roster.MAX_SUBJECT_CHARS,
        description="Only one person's sessions. " + _SUBJECT,
    ),
]


class ConsoleSessionInfo(BaseModel):
    """An open console session: who holds it, how and with what role it was opened,
    when it opened, was last used and ends."""

    subject: str = Field(
        description="The admin token's subject, the OIDC user, or the gateway key id."
    )
    opened_with: str = Field(description="admin_token, oidc or gateway_key.")
    id: str | None = Field(description="The admin token or gateway key id; null for OIDC.")
    role: str | None = Field(
        description="The role it was opened with (an OIDC user's: mapped from the claims "
        "at sign-in); null for a gateway key's chat-only session, or when not recorded."
    )
    opened_at: datetime
    last_seen_at: datetime | None = Field(
        description="When it was last used, to within a minute; null when not recorded."
    )
    expires_at: datetime


class ConsoleSessionList(Page[ConsoleSessionInfo]):
    """Open console sessions, oldest first."""


class SignOut(BaseModel):
    """Whose sessions to end: `{"all": true}`, or `{"subject": "..."}`."""

    model_config = ConfigDict(extra="forbid")

    all: bool = Field(False, description="End every console session.")
    subject: str | None = Field(
        None, min_length=1, max_length=roster.MAX_SUBJECT_CHARS, description=_SUBJECT
    )

    @field_validator("subject")
    @classmethod
    def _stripped(cls, subject: str | None) -> str | None:
        if subject is not None and not subject.strip():
            raise ValueError("is empty; give a subject, or all: true")
        return None if subject is None else subject.strip()

    @model_validator(mode="after")
    def _one_choice(self) -> SignOut:
        if self.all == (self.subject is not None):
            raise ValueError('give {"all": true} (every session) or a subject, not both')
        return self


class SignedOut(BaseModel):
    """How many sessions were ended (those open at the time), and whose (null: all)."""

    ended: int
    subject: str | None


def _info(session: roster.ListedSession) -> ConsoleSessionInfo:
    return ConsoleSessionInfo(
        subject=session.subject,
        opened_with=session.opened_with,
        id=session.held_by,
        role=session.role,
        opened_at=session.opened_at,
        last_seen_at=session.last_seen_at,
        expires_at=session.expires_at,
    )


async def list_console_sessions(
    actor: Actor,
    context: Ctx,
    limit: Limit = 100,
    cursor: Cursor = None,
    subject: Subject = None,
) -> ConsoleSessionList:
    """Who is signed in to the console: one item per open session, oldest first.

    Sessions that expired, were logged out or signed out, or whose admin token or
    gateway key no longer authenticates are not listed.
    """
    if subject is not None and not subject.strip():
        raise InvalidRequest("subject is empty; give a subject or leave it out", param="subject")
    database = context.runtime.database
    now = datetime.now(UTC)
    found = await roster.open_sessions(
        database, actor, now, None if subject is None else subject.strip()
    )
    page, following = page_in_memory(
        found,
        lambda s: (s.opened_at.isoformat(), s.subject, s.opened_with, s.held_by or ""),
        limit=limit,
        cursor=cursor,
        kinds=(str, str, str, str),
    )
    data = [_info(session) for session in page]
    return ConsoleSessionList(data=data, has_more=following is not None, next_cursor=following)


async def sign_out_console_sessions(actor: Actor, context: Ctx, body: SignOut) -> SignedOut:
    """End console sessions now: every one, or one person's.

    Their browsers see the login page from their next request on, on every worker and
    replica. An admin event (`console.sign_out`) names the subject (`*` for all) and how
    many sessions ended. It revokes nothing: a leaked token still needs revoking.
    """
    ended = await roster.sign_out(
        context.runtime.database, context.trail, actor, body.subject, datetime.now(UTC)
    )
    return SignedOut(ended=ended, subject=body.subject)


ROUTES = (
    Route("GET", "/console/sessions", list_console_sessions, "console.sessions", (400,)),
    Route(
        "POST",
        "/console/sessions/sign-out",
        sign_out_console_sessions,
        "console.sign_out",
        (400,),
    ),
)
