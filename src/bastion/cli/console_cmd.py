"""``bastion console``: list the open admin console sessions, and end them from the
command line, every one (after an admin token leaked or an OIDC role mapping was wrong)
or one person's.

A console session is open only while its row is in ``console_sessions`` (docs/console.md);
deleting the rows ends the sessions on every worker and replica from their next request
on: their browsers get the login page. Only the ``admin`` role may sign out; each is an
admin event (``console.sign_out``) with how many sessions it ended. Listing needs the
``admin`` or ``security`` role and shows who holds each session, never anything that
would open one (the store keeps only hashes of session ids; not even those are shown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bastion.cli._context import (
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    echo_table,
    iso,
    json_option,
    load_cli_config,
    open_database,
    open_trail,
    run_async,
)
from bastion.identity.issuing import MAX_FIELD_CHARS

if TYPE_CHECKING:
    from bastion.storage.console_sessions import StoredConsoleSession
    from bastion.storage.database import Database

ALL_SESSIONS = "*"
"""The admin event's target when every session was ended."""
ADMIN_TOKEN, GATEWAY_KEY, OIDC = "admin_token", "gateway_key", "oidc"
"""How a session was opened, as ``bastion console sessions --json`` names it."""
_OPENED_WITH = {ADMIN_TOKEN: "admin token", GATEWAY_KEY: "gateway key", OIDC: "OIDC"}
_NO_ROLE = {OIDC: "not recorded", GATEWAY_KEY: "chat only"}
"""The table's role cell for sessions whose role the store does not hold: an OIDC
user's is in their signed cookie only, a gateway key's session has none (chat only)."""

_SUBJECT_HELP = (
    "an OIDC user's subject (as in admin events), or an admin token subject (the "
    "sessions of each of its tokens); a token or gateway key id: the sessions opened "
    "with it."
)


@click.group("console")
def console() -> None:
    """List console sessions, or end them: every one, or one person's."""


def _checked_subject(subject: str | None, otherwise: str) -> str | None:
    """``--subject`` stripped; a usage error when empty (``otherwise``: what else to
    give) or longer than any subject."""
    if subject is None:
        return None
    subject = subject.strip()
    if not subject:
        raise click.BadParameter(f"is empty; give a subject, {otherwise}", param_hint="--subject")
    if len(subject) > MAX_FIELD_CHARS:  # as an admin token's or an OIDC user's subject
        raise click.BadParameter(f"at most {MAX_FIELD_CHARS} characters", param_hint="--subject")
    return subject


async def _holders(db: Database, subject: str) -> set[str]:
    """What the store names as the holder of ``subject``'s sessions: an admin token's
    are stored under its id, an OIDC user's under the subject, a gateway key's under
    the key id."""
    from bastion.storage.admin_tokens import AdminTokenRepository

    tokens = await AdminTokenRepository(db).list(include_revoked=True)
    return {subject, *(t.token_id for t in tokens if t.subject == subject)}


@console.command("sign-out")
@config_option
@admin_token_file_option
@click.option("--all", "everyone", is_flag=True, help="End every console session.")
@click.option("--subject", default=None, help="End one person's sessions: " + _SUBJECT_HELP)
@json_option
def sign_out(
    config_file: Path | None,
    admin_token_file: Path | None,
    everyone: bool,
    subject: str | None,
    as_json: bool,
) -> None:
    """End console sessions now (--all, or --subject NAME): they see the login page."""
    subject = _checked_subject(subject, "or --all")
    if everyone == (subject is not None):
        raise click.UsageError("give --all (every session) or --subject NAME, not both")
    config = load_cli_config(config_file)

    async def operation() -> int:
        from bastion.identity.admin import AdminRole, require_role
        from bastion.storage.console_sessions import ConsoleSessionRepository

        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, (AdminRole.ADMIN,), "sign out console sessions")
            holders = None if subject is None else await _holders(db, subject)
            sessions = ConsoleSessionRepository(db)
            ended = await sessions.close_all(datetime.now(UTC), subjects=holders)
            await open_trail(config, db).record(
                actor, "console.sign_out", subject or ALL_SESSIONS, {"ended": ended}
            )
            return ended

    ended = run_async(operation)
    if as_json:
        echo_json({"ended": ended, "subject": subject})
        return
    whose = "" if subject is None else f" of {subject!r}"
    click.echo(f"Ended {ended} console session{'' if ended == 1 else 's'}{whose}.")


@dataclass(frozen=True, slots=True)
class _Listed:
    """An open session as listed: who holds it, how it was opened (``ADMIN_TOKEN``...),
    the admin token or gateway key id behind it, the role (None: not in the store)."""

    subject: str
    opened_with: str
    held_by: str | None
    role: str | None
    opened_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, str | None]:
        """The ``--json`` object (times ISO-8601 UTC)."""
        return {
            "subject": self.subject,
            "opened_with": self.opened_with,
            "id": self.held_by,
            "role": self.role,
            "opened_at": iso(self.opened_at),
            "expires_at": iso(self.expires_at),
        }

    def to_row(self) -> list[str]:
        """The table's cells (made printable by ``echo_table``)."""
        opened_with = _OPENED_WITH.get(self.opened_with, self.opened_with)
        if self.opened_with == ADMIN_TOKEN:
            opened_with = f"{opened_with} {self.held_by}"
        return [
            self.subject,
            opened_with,
            self.role or _NO_ROLE.get(self.opened_with, "-"),
            iso(self.opened_at) or "-",
            iso(self.expires_at) or "-",
        ]


@console.command("sessions")
@config_option
@admin_token_file_option
@click.option("--subject", default=None, help="Only one person's sessions: " + _SUBJECT_HELP)
@json_option
def list_sessions(
    config_file: Path | None, admin_token_file: Path | None, subject: str | None, as_json: bool
) -> None:
    """List who is signed in to the console.

    One row per open session: its holder (what --subject takes), how it was opened
    (admin token, OIDC or gateway key), the role, when it opened and when it ends.
    Nothing that would open a session is shown."""
    subject = _checked_subject(subject, "or leave --subject out for every session")
    config = load_cli_config(config_file)

    async def operation() -> list[_Listed]:
        from bastion.identity.admin import GOVERNORS, require_role
        from bastion.storage.console_sessions import ConsoleSessionRepository

        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, GOVERNORS, "list console sessions")
            now = datetime.now(UTC)
            holders = None if subject is None else await _holders(db, subject)
            stored = await ConsoleSessionRepository(db).list_open(now, subjects=holders)
            return await _described(db, stored, now)

    sessions = run_async(operation)
    if as_json:
        echo_json([session.to_json() for session in sessions])
        return
    if not sessions:
        whose = "" if subject is None else f" of {subject!r}"
        click.echo(f"No console sessions{whose} are open.")
        return
    headers = ["SUBJECT", "OPENED WITH", "ROLE", "OPENED", "EXPIRES"]
    echo_table(headers, [session.to_row() for session in sessions])


async def _described(
    db: Database, stored: list[StoredConsoleSession], now: datetime
) -> list[_Listed]:
    """Each session with who holds it. Sessions of an admin token or gateway key that
    no longer authenticates are left out: the console refuses them, they ended with it.
    The id hash is not kept: nothing secret-derived is listed."""
    from bastion.console import session as kinds
    from bastion.storage.admin_tokens import AdminTokenRepository
    from bastion.storage.keys import KeyRepository, KeyStatus

    opened_with = {kinds.ADMIN: ADMIN_TOKEN, kinds.GATEWAY_KEY: GATEWAY_KEY, kinds.OIDC: OIDC}
    tokens = {t.token_id: t for t in await AdminTokenRepository(db).list(include_revoked=True)}
    keys = KeyRepository(db)
    listed: list[_Listed] = []
    for session in stored:
        subject, held_by, role = session.subject, None, None
        if session.kind == kinds.ADMIN:
            token = tokens.get(session.subject)
            if token is None or not token.is_active(now):
                continue
            subject, held_by, role = token.subject, token.token_id, token.role
        elif session.kind == kinds.GATEWAY_KEY:
            key = await keys.get(session.subject)
            if key is None or key.status(now) not in (KeyStatus.ACTIVE, KeyStatus.GRACE):
                continue
            held_by = key.key_id
        how = opened_with.get(session.kind, session.kind)
        listed.append(_Listed(subject, how, held_by, role, session.created_at, session.expires_at))
    return listed
