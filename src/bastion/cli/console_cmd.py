"""``bastion console``: end admin console sessions from the command line, every one (after
an admin token leaked or an OIDC role mapping was wrong) or one person's.

A console session is open only while its row is in ``console_sessions`` (docs/console.md);
deleting the rows ends the sessions on every worker and replica from their next request
on: their browsers get the login page. Only the ``admin`` role may; each sign-out is an
admin event (``console.sign_out``) with how many sessions it ended.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from bastion.cli._context import (
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    json_option,
    load_cli_config,
    open_database,
    open_trail,
    run_async,
)
from bastion.identity.issuing import MAX_FIELD_CHARS

ALL_SESSIONS = "*"
"""The admin event's target when every session was ended."""


@click.group("console")
def console() -> None:
    """End admin console sessions: every one, or one person's."""


@console.command("sign-out")
@config_option
@admin_token_file_option
@click.option("--all", "everyone", is_flag=True, help="End every console session.")
@click.option(
    "--subject",
    default=None,
    help="End one person's sessions: an OIDC user's subject (as in admin events), or an "
    "admin token subject (the sessions of each of its tokens); a token or gateway key id "
    "ends the sessions opened with it.",
)
@json_option
def sign_out(
    config_file: Path | None,
    admin_token_file: Path | None,
    everyone: bool,
    subject: str | None,
    as_json: bool,
) -> None:
    """End console sessions now (--all, or --subject NAME): they see the login page."""
    if subject is not None:
        subject = subject.strip()
        if not subject:
            raise click.BadParameter("is empty; give a subject, or --all", param_hint="--subject")
        if len(subject) > MAX_FIELD_CHARS:  # as an admin token's or an OIDC user's subject
            raise click.BadParameter(
                f"at most {MAX_FIELD_CHARS} characters", param_hint="--subject"
            )
    if everyone == (subject is not None):
        raise click.UsageError("give --all (every session) or --subject NAME, not both")
    config = load_cli_config(config_file)

    async def operation() -> int:
        from bastion.identity.admin import AdminRole, require_role
        from bastion.storage.admin_tokens import AdminTokenRepository
        from bastion.storage.console_sessions import ConsoleSessionRepository

        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, (AdminRole.ADMIN,), "sign out console sessions")
            holders: set[str] | None = None
            if subject is not None:
                # a token's sessions are stored under its id, an OIDC user's under the subject
                tokens = await AdminTokenRepository(db).list(include_revoked=True)
                holders = {subject, *(t.token_id for t in tokens if t.subject == subject)}
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
