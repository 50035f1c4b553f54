"""``bastion audit search|export``: find call records by time, caller, decision, rule,
class and model, and write every matching record as JSON lines or CSV (docs/audit.md).

Both read ``call_records`` through :class:`~bastion.storage.call_search.CallSearch`,
newest first; ``export`` walks its keyset pages, so memory stays flat however many
records match. Records hold class names, places and counts, never prompt or answer
text or found values; reading them needs a role that may read records (admin,
security, auditor).
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click
import orjson

from bastion.cli._context import (
    READ_RECORDS,
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    echo_table,
    json_option,
    load_cli_config,
    open_database,
    run_async,
)
from bastion.identity.admin import RECORD_READERS, require_role
from bastion.model import CallRecord
from bastion.model.audit import record_document, record_to_json, rules_acted
from bastion.storage.call_search import CallFilter, CallSearch

F = TypeVar("F", bound=Callable[..., Any])

EXPORT_PAGE_SIZE = 500
"""Records read per query while exporting."""

CSV_COLUMNS = (
    "time",
    "request_id",
    "endpoint",
    "key_id",
    "name",
    "user",
    "app",
    "team",
    "environment",
    "owner",
    "model_requested",
    "model_used",
    "provider",
    "decision",
    "rules",
    "rules_acted",
    "classes",
    "exception",
    "policy_version",
    "status",
    "http_status",
    "error_code",
    "stream",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "gateway_ms",
    "upstream_ms",
    "end_user_claimed",
    "client_addr",
)
"""The CSV columns of search and export, in order (``rules``, ``rules_acted`` and
``classes`` joined with ``;``, classes as ``name:count``)."""

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _filter_options(command: F) -> F:
    """The record filters shared by ``search`` and ``export``."""
    options = [
        click.option("--from", "since", default=None, help="Calls started at or after this "
                     "ISO-8601 time (2026-12-01, 2026-12-01T09:00:00Z; UTC when no offset)."),
        click.option("--to", "until", default=None, help="Calls started before this ISO-8601 "
                     "time (exclusive)."),
        click.option("--user", default=None, help="Caller's user."),
        click.option("--app", default=None, help="Caller's app."),
        click.option("--team", default=None, help="Caller's team."),
        click.option("--env", "environment", default=None, help="Caller's environment."),
        click.option("--decision", default=None, help="Policy decision (allow, redact, block, "
                     "reroute, require_exception, ...)."),
        click.option(
            "--rule", default=None, help="A rule that acted on the request or the answer (its id)."
        ),
        click.option("--class", "data_class", default=None, help="A data class found "
                     "(pii.email) or a family (pii.*)."),
        click.option("--model", default=None, help="Model asked for or used."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def parse_moment(text: str, *, option: str) -> float:
    """An ISO-8601 date or date-time as epoch seconds (UTC when no offset is given)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 date or time; use e.g. 2026-12-01 or "
            "2026-12-01T09:30:00Z",
            param_hint=option,
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def call_filter(since: str | None, until: str | None, **fields: str | None) -> CallFilter:
    """The filter the options describe; a bad or empty time range is a usage error."""
    start = parse_moment(since, option="--from") if since is not None else None
    end = parse_moment(until, option="--to") if until is not None else None
    if start is not None and end is not None and start >= end:
        raise click.UsageError(f"--from ({since}) must be before --to ({until})")
    return CallFilter(since=start, until=end, **fields)


# --- rows ---


def _moment(started_at: float) -> str:
    return datetime.fromtimestamp(started_at, UTC).isoformat(timespec="seconds")


def class_counts(record: CallRecord) -> dict[str, int]:
    """Classes found in the call and how many of each (names and counts only)."""
    counts: dict[str, int] = {}
    for finding in record.findings:
        counts[finding.data_class] = counts.get(finding.data_class, 0) + finding.count
    return counts


def _classes_text(record: CallRecord) -> str:
    return ";".join(f"{name}:{count}" for name, count in sorted(class_counts(record).items()))


def _exception(record: CallRecord) -> str | None:
    applied = record.request_facts.get("exception_applied")
    return applied if isinstance(applied, str) else None


def csv_row(record: CallRecord) -> list[str]:
    """One record as CSV cells, in :data:`CSV_COLUMNS` order."""
    values = record_to_json(record)
    values["time"] = _moment(record.started_at)
    values["rules"] = ";".join(record.rules)
    values["rules_acted"] = ";".join(rules_acted(record))
    values["classes"] = _classes_text(record)
    values["exception"] = _exception(record)
    return [_csv_cell(values[column]) for column in CSV_COLUMNS]


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    # A caller-chosen value (a claimed user, a model name) starting like a formula would
    # run as one in a spreadsheet: quote it as text.
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def json_line(record: CallRecord) -> bytes:
    """One record as a line of JSON (``record_document``: its fields and ``rules_acted``)."""
    return orjson.dumps(record_document(record), option=orjson.OPT_APPEND_NEWLINE)


def _printable(value: object) -> str:
    """A cell for the terminal: control characters (escape sequences) shown as '?'."""
    text = "-" if value is None or value == "" else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _table_row(record: CallRecord) -> list[str]:
    principal = record.principal
    usage = record.usage
    return [
        _printable(_moment(record.started_at)),
        _printable(record.request_id),
        _printable(principal.app if principal else None),
        _printable(principal.team if principal else None),
        _printable(principal.environment if principal else None),
        _printable(record.model_used or record.model_requested),
        _printable(record.decision),
        _printable(",".join(rules_acted(record))),
        _printable(",".join(f"{n}x{c}" for n, c in sorted(class_counts(record).items()))),
        _printable(record.status.value),
        f"{usage.prompt_tokens}+{usage.completion_tokens}",
        "-" if record.cost_usd is None else f"${record.cost_usd:.6f}",
    ]


_TABLE_HEADERS = [
    "TIME",
    "REQUEST ID",
    "APP",
    "TEAM",
    "ENV",
    "MODEL",
    "DECISION",
    "RULES",
    "CLASSES",
    "STATUS",
    "TOKENS",
    "COST",
]


# --- search ---


@click.command("search")
@config_option
@admin_token_file_option
@_filter_options
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=50,
    show_default=True,
    help="Most records to list (use `bastion audit export` for all).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default=None,
    help="Output format (default: table; --json is --format json).",
)
@json_option
def search(
    config_file: Path | None,
    admin_token_file: Path | None,
    since: str | None,
    until: str | None,
    user: str | None,
    app: str | None,
    team: str | None,
    environment: str | None,
    decision: str | None,
    rule: str | None,
    data_class: str | None,
    model: str | None,
    limit: int,
    output_format: str | None,
    as_json: bool,
) -> None:
    """List the calls matching every filter given, newest first: who, which model, the
    decision, every rule that acted (on the request or the answer) and classes found
    (names and counts, never values)."""
    if as_json and output_format not in (None, "json"):
        raise click.UsageError(f"--json conflicts with --format {output_format}")
    shown_as = "json" if as_json else output_format or "table"
    where = call_filter(
        since,
        until,
        user=user,
        app=app,
        team=team,
        environment=environment,
        decision=decision,
        rule=rule,
        data_class=data_class,
        model=model,
    )
    config = load_cli_config(config_file)

    async def operation() -> tuple[tuple[CallRecord, ...], bool]:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)
            page = await CallSearch(db).page(where, limit=limit)
            return page.records, page.after is not None

    records, more = run_async(operation)
    if shown_as == "json":
        echo_json({"records": [record_document(r) for r in records], "more": more})
        return
    if shown_as == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_row(r) for r in records)
    elif records:
        echo_table(_TABLE_HEADERS, [_table_row(r) for r in records])
    else:
        click.echo("no calls match", err=True)
    if more:
        click.echo(
            f"more than {limit} calls match: raise --limit or use `bastion audit export`",
            err=True,
        )


# --- export ---


@click.command("export")
@config_option
@admin_token_file_option
@_filter_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="One JSON object per line, or CSV with a header row.",
)
@click.option(
    "--out",
    "out",
    default="-",
    show_default=True,
    help="File to write (replaced when the export completes), or - for standard output.",
)
@json_option
def export(
    config_file: Path | None,
    admin_token_file: Path | None,
    since: str | None,
    until: str | None,
    user: str | None,
    app: str | None,
    team: str | None,
    environment: str | None,
    decision: str | None,
    rule: str | None,
    data_class: str | None,
    model: str | None,
    output_format: str,
    out: str,
    as_json: bool,
) -> None:
    """Write every call record matching the filters, newest first, as JSON lines or CSV.

    Records carry no prompt or answer text. Writing to a file shows a progress bar on a
    terminal and prints a summary (with --json, as JSON) once the file is complete.
    """
    to_stdout = out == "-"
    if as_json and to_stdout:
        raise click.UsageError("--json prints a summary of an export to a file; add --out FILE")
    where = call_filter(
        since,
        until,
        user=user,
        app=app,
        team=team,
        environment=environment,
        decision=decision,
        rule=rule,
        data_class=data_class,
        model=model,
    )
    config = load_cli_config(config_file)
    target = None if to_stdout else Path(out)

    async def operation() -> int:
        async with open_database(config) as db:
            actor = await acting_admin(admin_token_file, db)
            require_role(actor, RECORD_READERS, READ_RECORDS)
            search_calls = CallSearch(db)
            total = await search_calls.count(where) if target is not None else 0
            with _output(target) as stream, _progress(total, shown=target is not None) as bar:
                write = _writer(stream, output_format)
                written = 0
                after = None
                while True:
                    page = await search_calls.page(where, limit=EXPORT_PAGE_SIZE, after=after)
                    for record in page.records:
                        write(record)
                    written += len(page.records)
                    bar(len(page.records))
                    if page.after is None:
                        return written
                    after = page.after

    written = run_async(operation)
    if target is None:
        return
    if as_json:
        echo_json({"records": written, "format": output_format, "out": str(target)})
    else:
        click.echo(f"exported {written} call records to {target} ({output_format})", err=True)


def _writer(stream: IO[bytes], output_format: str) -> Callable[[CallRecord], None]:
    """A function writing one record to ``stream`` (CSV: after the header, written now)."""
    if output_format == "jsonl":

        def write_line(record: CallRecord) -> None:
            stream.write(json_line(record))

        return write_line
    rows = csv.writer(_Utf8(stream), lineterminator="\n")
    rows.writerow(CSV_COLUMNS)

    def write_row(record: CallRecord) -> None:
        rows.writerow(csv_row(record))

    return write_row


class _Utf8:
    """The text side of a binary stream, for ``csv.writer`` (which writes str)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text.encode("utf-8"))


@contextmanager
def _output(target: Path | None) -> Iterator[IO[bytes]]:
    """Standard output, or a file written beside ``target`` and renamed onto it only
    when the export completes (a failed export leaves no partial file)."""
    if target is None:
        stdout = sys.stdout.buffer
        yield stdout
        stdout.flush()
        return
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as stream:
            yield stream
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def _progress(total: int, *, shown: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error when it is a terminal (never on stdout's data)."""
    if not shown or not sys.stderr.isatty():
        yield lambda _done: None
        return
    with click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
        yield bar.update
