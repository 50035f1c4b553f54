"""``bastion console``: list the open admin console sessions, and end them from the
command line, every one (after an admin token leaked or an OIDC role mapping was wrong)
or one person's.

A console session is open only while its row is in ``console_sessions`` (docs/console.md);
deleting the rows ends the sessions on every worker and replica from their next request
on: their browsers get the login page. Only the ``admin`` role may sign out; each is an
admin event (``console.sign_out``) with how many sessions it ended. Listing needs the
``admin`` or ``security`` role and shows who holds each session, with what role it was
opened and when it was last used, never anything that would open one (the store keeps
only hashes of session ids; not even those are shown). Both are
``bastion.console.roster``'s, as the admin API's ``/console/sessions`` routes are.
"""

from __future__ import annotations

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
    from bastion.console.roster import ListedSession

_OPENED_WITH = {"admin_token": "admin token", "gateway_key": "gateway key", "oidc": "OIDC"}
"""The table's words for how a session was opened (``--json`` has the names)."""
_NO_ROLE = {"oidc": "not recorded", "gateway_key": "chat only"}
"""The table's role cell for sessions without a stored role: an OIDC session opened
before roles were stored (its role is only in its signed cookie), a gateway key's
session (chat only)."""

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
        from bastion.console import roster

        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            trail = open_trail(config, db)
            return await roster.sign_out(db, trail, actor, subject, datetime.now(UTC))

    ended = run_async(operation)
    if as_json:
        echo_json({"ended": ended, "subject": subject})
        return
    whose = "" if subject is None else f" of {subject!r}"
    click.echo(f"Ended {ended} console session{'' if ended == 1 else 's'}{whose}.")


def _to_json(session: ListedSession) -> dict[str, str | None]:
    """The ``--json`` object (times ISO-8601 UTC)."""
    return {
        "subject": session.subject,
        "opened_with": session.opened_with,
        "id": session.held_by,
        "role": session.role,
        "opened_at": iso(session.opened_at),
        "last_seen_at": iso(session.last_seen_at),
        "expires_at": iso(session.expires_at),
    }


def _to_row(session: ListedSession) -> list[str]:
    """The table's cells (made printable by ``echo_table``)."""
    opened_with = _OPENED_WITH.get(session.opened_with, session.opened_with)
    if session.opened_with == "admin_token":
        opened_with = f"{opened_with} {session.held_by}"
    return [
        session.subject,
        opened_with,
        session.role or _NO_ROLE.get(session.opened_with, "-"),
        iso(session.opened_at) or "-",
        iso(session.last_seen_at) or "-",
        iso(session.expires_at) or "-",
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
    (admin token, OIDC or gateway key), the role it was opened with, when it opened,
    when it was last used (within a minute) and when it ends. Nothing that would open
    a session is shown."""
    subject = _checked_subject(subject, "or leave --subject out for every session")
    config = load_cli_config(config_file)

    async def operation() -> list[ListedSession]:
        from bastion.console import roster

        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            return await roster.open_sessions(db, actor, datetime.now(UTC), subject)

    sessions = run_async(operation)
    if as_json:
        echo_json([_to_json(session) for session in sessions])
        return
    if not sessions:
        whose = "" if subject is None else f" of {subject!r}"
        click.echo(f"No console sessions{whose} are open.")
        return
    headers = ["SUBJECT", "OPENED WITH", "ROLE", "OPENED", "LAST SEEN", "EXPIRES"]
    echo_table(headers, [_to_row(session) for session in sessions])
