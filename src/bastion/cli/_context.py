"""Shared CLI plumbing: common options, config and database opening, admin identity,
durations, JSON output, and turning Bastion errors into exit codes.

Exit codes (CONTRACT.md §10): 0 ok, 1 the operation failed (any ``BastionError``),
2 usage error (click's own, and ``click.BadParameter`` raised here).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bastion.errors import ApiError, BastionError

if TYPE_CHECKING:
    # Only for annotations: each command imports what it runs when it runs, so that
    # `bastion --help` and light commands do not pay for the database, detectors,
    # policy compiler or HTTP clients (they cost about a second of start-up).
    from bastion.audit.checkpoints import Signer
    from bastion.config import BastionConfig
    from bastion.identity.admin import AdminIdentity
    from bastion.pipeline.admin_trail import AdminTrail
    from bastion.pipeline.governance import Governance
    from bastion.storage.database import Database

T = TypeVar("T")
ADMIN_TOKEN_ENV_VAR = "BASTION_ADMIN_TOKEN"  # noqa: S105 (a variable name)
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: $BASTION_CONFIG, else built-in defaults).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
admin_token_file_option = click.option(
    "--admin-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"File holding the admin token (default: ${ADMIN_TOKEN_ENV_VAR}).",
)


def load_cli_config(config_file: Path | None) -> BastionConfig:
    """The effective configuration; a ConfigError ends the command with exit code 1."""
    from bastion.config import load_config

    try:
        return load_config(config_file)
    except BastionError as exc:
        raise click.ClickException(f"invalid configuration\n{exc}") from exc


def read_admin_token(token_file: Path | None) -> str | None:
    """The admin token from ``--admin-token-file``, else ``$BASTION_ADMIN_TOKEN``."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            # The file's content never goes into the message.
            raise click.ClickException(f"cannot read admin token file {token_file}") from exc
        if not token:
            raise click.ClickException(f"admin token file {token_file} is empty")
        return token
    return os.environ.get(ADMIN_TOKEN_ENV_VAR, "").strip() or None


@asynccontextmanager
async def open_database(config: BastionConfig) -> AsyncIterator[Database]:
    """The configured database, migrated to the newest schema, closed afterwards.

    With ``redis.url`` set, committed changes (keys, policy, exceptions...) nudge the
    running gateways to pick them up at once (``changes_redis``)."""
    from bastion.storage.database import Database

    database = Database.from_url(config.storage.url)
    push = None
    if config.redis.url is not None:
        from bastion.identity.changes_redis import RedisChangePublisher

        push = RedisChangePublisher(
            config.redis.url, key_prefix=config.redis.key_prefix, timeout_s=config.redis.timeout_s
        )
        database.after_changes_commit(push.publish)
    try:
        await database.migrate()
        yield database
    finally:
        if push is not None:
            await push.close()
        await database.close()


def open_trail(config: BastionConfig, database: Database) -> AdminTrail:
    """The admin chain, checkpointed when the deployment's keyring is here."""
    from bastion.audit import location as audit_location
    from bastion.pipeline.admin_trail import AdminTrail
    from bastion.storage.audit_events import AuditEventRepository

    return AdminTrail(
        AuditEventRepository(database),
        signer=_signer(config),
        checkpoint_file=audit_location.checkpoint_file(config),
    )


def open_governance(config: BastionConfig, database: Database) -> Governance:
    """The governance service shared with the admin API: role checks, and each change
    recorded on the admin chain (checkpointed when the deployment's keyring is here)."""
    from bastion.pipeline.governance import Governance

    return Governance(
        database,
        lambda: config,
        open_trail(config, database),
        warn=lambda text: click.echo(f"warning: {text}", err=True),
    )


def _signer(config: BastionConfig) -> Signer | None:
    """The keyring's signing key, when the keyring exists (the CLI never creates one)."""
    from bastion.audit.checkpoints import Signer
    from bastion.crypto.keyring import load_keyring
    from bastion.crypto.location import keyring_location

    try:
        path, _ = keyring_location(config)
        if path is None or not path.is_file():
            return None
        ring = load_keyring(path, generate=False)
    except BastionError:
        return None
    return Signer(ring.active("signing")) if ring.has("signing") else None


async def acting_admin(
    token_file: Path | None, database: Database, *, allow_bootstrap: bool = False
) -> AdminIdentity:
    """The admin identity this command acts as (CONTRACT.md §1)."""
    from bastion.identity.admin import resolve_cli_admin

    return await resolve_cli_admin(
        read_admin_token(token_file), database, allow_bootstrap=allow_bootstrap
    )


READ_RECORDS = "read call records"


def run_async(operation: Callable[[], Awaitable[T]]) -> T:
    """Run an async operation; a Bastion error becomes a message and exit code 1."""

    async def _run() -> T:
        return await operation()

    try:
        return asyncio.run(_run())
    except ApiError as exc:
        raise click.ClickException(exc.message) from exc
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc


def parse_duration(text: str, *, option: str, zero: bool = False) -> timedelta:
    """``30s``, ``15m``, ``24h``, ``90d`` or ``2w`` as a timedelta (usage error otherwise).

    ``zero``: a bare ``0`` is accepted too, for options where no time at all is the
    natural value (``--grace 0``: the old secret stops now); any other number without a
    unit stays an error (is ``30`` seconds or days?)."""
    if zero and text.strip() == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not a duration; use a number and a unit, e.g. 30m, 24h, 90d",
            param_hint=option,
        )
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_expiry(text: str, *, now: datetime, option: str = "--expires") -> datetime:
    """An ISO-8601 date/time (UTC when no offset is given) or a duration from ``now``."""
    try:
        moment = _parse_moment(text, now=now, option=option).astimezone(UTC)
    except OverflowError as exc:  # outside years 1-9999 in UTC: a datetime cannot hold it
        raise click.BadParameter(
            f"{text!r} is out of range; dates run from year 1 to 9999 (UTC)",
            param_hint=option,
        ) from exc
    if moment <= now:
        raise click.BadParameter(f"{text!r} is in the past", param_hint=option)
    return moment


def _parse_moment(text: str, *, now: datetime, option: str) -> datetime:
    if _DURATION.match(text):
        moment = now + parse_duration(text, option=option)
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            raise click.BadParameter(
                f"{text!r} is neither an ISO-8601 date (2027-01-01, 2027-01-01T12:00:00Z) "
                "nor a duration (90d, 24h)",
                param_hint=option,
            ) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment


def split_list(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeatable, comma-separated option values as one de-duplicated tuple, in order."""
    items = (item.strip() for value in values for item in value.split(","))
    return tuple(dict.fromkeys(item for item in items if item))


def iso(moment: datetime | None) -> str | None:
    """A timestamp as ISO-8601 (UTC, seconds), or None."""
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, newlines,
    bidi overrides) shown as '?'. Cells can hold what callers sent (an end user's id
    through a trust_end_user key, an app owner's justification)."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def echo_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print rows as left-aligned columns under ``headers`` (cells made printable)."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        click.echo("  ".join(cells).rstrip())
