"""``bastion policy validate | test | explain | diff``: policy files from the shell
(``activate | rollback | history | show``, the store's lifecycle, are in
``bastion.cli.policy_store``).

Every command checks the file against the config's data classes and models (as the
gateway would load it). Exit codes (CONTRACT.md §10): 0 ok; 1 the file is invalid, a
test case failed or none ran; 2 usage error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from bastion.cli import policy_store
from bastion.cli._context import (
    READ_RECORDS,
    acting_admin,
    admin_token_file_option,
    config_option,
    echo_json,
    json_option,
    load_cli_config,
    open_database,
    run_async,
)
from bastion.config import BastionConfig
from bastion.errors import BastionError, ConfigError
from bastion.identity.admin import RECORD_READERS, require_role
from bastion.model import CallRecord
from bastion.model.facts import CallFacts
from bastion.pipeline.guardrails import load_configured_policy
from bastion.pipeline.request_facts import RequestFacts
from bastion.policy.diff import Change, PolicyDiff, Section, diff_policies
from bastion.policy.explain import Explanation, explain
from bastion.policy.loader import Policy
from bastion.policy.replay import facts_from_record
from bastion.policy.testing import (
    PRINCIPAL_FIELDS,
    Case,
    CaseError,
    RunReport,
    junit_xml,
    load_cases,
    moment,
    principal_of,
    run_cases,
    sidecar_path,
)
from bastion.server.runtime import wire_options
from bastion.storage.call_records import CallRecordRepository

_ENDPOINTS = ("chat.completions", "responses", "embeddings")
_file_argument = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group("policy")
def policy() -> None:
    """Validate, test, explain and compare policy files; activate and roll back."""


for _command in (
    policy_store.activate,
    policy_store.rollback,
    policy_store.history,
    policy_store.show,
):
    policy.add_command(_command)


def _fail(message: str, as_json: bool = False) -> NoReturn:
    if as_json:
        echo_json({"ok": False, "error": message})
    else:
        click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def _load(
    config: BastionConfig, path: Path, as_json: bool = False, *, cases: bool = True
) -> tuple[Policy, list[Case]]:
    """The policy at ``path`` and (with ``cases``) its test cases; an invalid one ends
    with exit 1."""
    try:
        loaded = load_configured_policy(config, path)
        if not cases:
            return loaded, []
        return loaded, load_cases(path, loaded.document, loaded.compiled.defaults)
    except ConfigError as exc:
        _fail(str(exc), as_json)


# -- validate ------------------------------------------------------------------------


@policy.command("validate")
@config_option
@json_option
@_file_argument
def validate(config_file: Path | None, as_json: bool, file: Path) -> None:
    """Check FILE (and FILE's .tests.yaml) against the config; exit 1 when invalid."""
    config = load_cli_config(config_file)
    loaded, cases = _load(config, file, as_json)
    document = loaded.document
    summary = {
        "ok": True,
        "file": str(file),
        "version": loaded.version,
        "rules": len(document.rules),
        "exceptions": len(document.exceptions),
        "tests": len(cases),
    }
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"ok: {file}: {loaded.version}, {_count(len(document.rules), 'rule')}, "
        f"{_count(len(document.exceptions), 'exception')}, {_count(len(cases), 'test')}"
    )


# -- test ----------------------------------------------------------------------------


@policy.command("test")
@config_option
@json_option
@click.option(
    "--junit-xml",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a JUnit XML report here (for CI).",
)
@_file_argument
def test(config_file: Path | None, as_json: bool, junit_path: Path | None, file: Path) -> None:
    """Run FILE's test cases (its tests: and FILE's .tests.yaml).

    Exit 1 when a case fails or when no case ran. Also lists rules no case reached.
    """
    config = load_cli_config(config_file)
    loaded, cases = _load(config, file, as_json)
    facts = RequestFacts(config, wire_options(config))
    try:
        report = run_cases(loaded, cases, facts.of_case, time.time())
    except BastionError as exc:
        _fail(str(exc), as_json)
    if junit_path is not None:
        try:
            junit_path.write_bytes(junit_xml(report, str(file)))
        except OSError as exc:
            _fail(f"cannot write {junit_path}: {exc.strerror}", as_json)
    if as_json:
        echo_json(report.to_json())
    elif report.results:
        _print_report(report, file)
    if not report.results:
        if not as_json:
            click.echo(
                f"error: no test case ran: add tests: to {file} or write {sidecar_path(file)}",
                err=True,
            )
        raise SystemExit(1)
    if report.failed:
        raise SystemExit(1)


def _print_report(report: RunReport, file: Path) -> None:
    click.echo(f"policy {report.policy} ({file})")
    for result in report.results:
        if result.passed:
            click.echo(f"PASS  {result.name}")
            continue
        click.echo(f"FAIL  {result.name}  ({result.source})")
        for line in result.failure_text().splitlines():
            click.echo(f"        {line}")
        for step in result.steps:
            detail = f" ({step.detail})" if step.detail else ""
            click.echo(f"        trace: {step.stage} {step.rule}: {step.outcome}{detail}")
    failed = len(report.failed)
    total = len(report.results)
    click.echo(f"{_count(total, 'case')}: {total - failed} passed, {failed} failed")
    click.echo(f"rules no case reached: {', '.join(report.unreached) or 'none'}")
    if report.unreached_checks:
        click.echo(
            f"built-in checks no case reached: {', '.join(report.unreached_checks)} "
            "(safety nets: rules before them may leave nothing for them to catch)"
        )


# -- explain -------------------------------------------------------------------------


@policy.command("explain")
@config_option
@json_option
@click.option(
    "--request",
    "request_file",
    default=None,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="A raw request body (JSON), as a client would send it; `-` reads stdin.",
)
@click.option(
    "--call",
    "call_id",
    default=None,
    metavar="REQUEST_ID",
    help="Instead of --request: a recorded call (x-bastion-request-id), rebuilt from its "
    "audit facts and decided as of when it was made (needs admin, security or auditor).",
)
@admin_token_file_option
@click.option(
    "--principal",
    "principal_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help=f"Caller field ({', '.join(PRINCIPAL_FIELDS)}); repeat; role=NAME may repeat.",
)
@click.option(
    "--endpoint",
    type=click.Choice(_ENDPOINTS),
    default=None,
    help="API surface the request is sent to (default: chat.completions for a body with "
    "messages; a body with input needs responses or embeddings named).",
)
@click.option("--model", default=None, help="Model asked for (instead of the body's).")
@click.option("--exception", "exception_id", default=None, help="Exception the call names.")
@click.option(
    "--at",
    "at",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    default=None,
    help="Decide as of this time (UTC unless given; default: now).",
)
@_file_argument
def explain_command(
    config_file: Path | None,
    as_json: bool,
    request_file: Path | None,
    call_id: str | None,
    admin_token_file: Path | None,
    principal_pairs: tuple[str, ...],
    endpoint: str | None,
    model: str | None,
    exception_id: str | None,
    at: Any,
    file: Path,
) -> None:
    """Explain how FILE decides one request: findings, each rule, exceptions, result."""
    if (request_file is None) == (call_id is None):
        raise click.UsageError("give either --request FILE or --call REQUEST_ID")
    config = load_cli_config(config_file)
    loaded, _ = _load(config, file, as_json, cases=False)
    if call_id is not None:
        if principal_pairs or model or exception_id:
            raise click.UsageError("--call takes the caller, model and exception from the record")
        facts, made_at = _recorded_facts(config, call_id, admin_token_file, as_json)
        result = explain(loaded, facts, (), moment(at, made_at))
        if as_json:
            echo_json(result.to_json())
        else:
            _print_explanation(result)
        return
    assert request_file is not None
    fields = _principal_fields(principal_pairs)
    body = _read_request(request_file)
    if endpoint is None:
        if "input" in body and "messages" not in body:
            _fail(
                "the request has input and no messages: name its API with "
                "--endpoint responses or --endpoint embeddings",
                as_json,
            )
        endpoint = "chat.completions"
    try:
        principal = principal_of(fields)
        facts = RequestFacts(config, wire_options(config)).of_body(
            body, endpoint, principal, model=model, exception=exception_id
        )
    except CaseError as exc:
        _fail(str(exc), as_json)
    except BastionError as exc:
        _fail(str(exc), as_json)
    result = explain(loaded, facts, (), moment(at, time.time()))
    if as_json:
        echo_json(result.to_json())
    else:
        _print_explanation(result)


def _recorded_facts(
    config: BastionConfig, call_id: str, admin_token_file: Path | None, as_json: bool
) -> tuple[CallFacts, float]:
    """The facts of a recorded call and when it was made (its text is never needed)."""

    async def operation() -> CallRecord | None:
        async with open_database(config) as db:
            require_role(await acting_admin(admin_token_file, db), RECORD_READERS, READ_RECORDS)
            return await CallRecordRepository(db).get(call_id)

    record = run_async(operation)
    if record is None:
        _fail(f"no recorded call {call_id[:64]!r}", as_json)
    try:
        return facts_from_record(record), record.started_at
    except ValueError as exc:
        _fail(f"{exc} (it was refused before it was decided)", as_json)


def _principal_fields(pairs: tuple[str, ...]) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {}
    roles: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint="--principal")
        if key in ("role", "roles"):
            roles += [r.strip() for r in value.split(",") if r.strip()]
        elif key in PRINCIPAL_FIELDS:
            fields[key] = value
        else:
            raise click.BadParameter(
                f"unknown field {key!r}; use one of {', '.join(PRINCIPAL_FIELDS)}",
                param_hint="--principal",
            )
    if roles:
        fields["roles"] = roles
    return fields


def _read_request(path: Path) -> dict[str, Any]:
    try:
        with click.open_file(str(path), encoding="utf-8") as handle:
            body = json.load(handle)
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}")
    except ValueError as exc:
        _fail(f"{path}: not JSON: {exc}")
    if not isinstance(body, dict):
        _fail(f"{path}: a request body is a JSON object")
    return body


def _print_explanation(result: Explanation) -> None:
    data = result.to_json()
    call = data["call"]
    principal = ", ".join(
        f"{k}={','.join(v) if isinstance(v, list) else v}"
        for k, v in call["principal"].items()
        if v not in (None, [])
    )
    click.echo(f"policy {result.policy}")
    click.echo(f"call: {call['endpoint']} model {call['model']} by {principal}")
    if call["tools"]:
        click.echo(f"tools: {', '.join(call['tools'])}")
    if call["exception"]:
        click.echo(f"names exception: {call['exception']}")
    click.echo("findings:")
    for finding in data["findings"]:
        monitored = ", monitored only" if finding["monitored"] else ""
        click.echo(
            f"  {finding['class']} in {finding['where']} score {finding['score']:.2f} "
            f"x{finding['count']} ({finding['sensitivity']}{monitored})"
        )
    if not data["findings"]:
        click.echo("  none")
    click.echo("rules:")
    for rule in result.rules:
        waived = any(step.outcome == "waived" for step in rule.steps)
        mark = "WAIVE" if waived else "MATCH" if rule.matched else "-    "
        shadow = " [shadow]" if rule.shadow else ""
        click.echo(f"  {mark} {rule.id} ({rule.action}{shadow}): {rule.reason}")
    for step in result.checks:
        detail = f" ({step.detail})" if step.detail else ""
        click.echo(f"  check {step.rule} ({step.stage}): {step.outcome}{detail}")
    click.echo("exceptions:")
    for entry in data["exceptions"]:
        scope = ", ".join(f"{k}={v}" for k, v in entry["scope"].items())
        click.echo(
            f"  {entry['id']} for {entry['rule']} ({scope}; {entry['state']}): {entry['verdict']}"
        )
    if not data["exceptions"]:
        click.echo("  none")
    decision = data["decision"]
    click.echo(f"decision: {decision['action']}")
    lines = {
        "rules": ", ".join(decision["rules"]) or "none",
        "model": decision["model"] + (" (rerouted)" if decision["rerouted"] else ""),
        "redactions": ", ".join(f"{k}: {v}" for k, v in decision["redactions"].items()),
        "message": decision["message"],
        "code": decision["code"],
        "exception": decision["exception"],
        "exception state": decision["exception_state"],
        "shadow decision": decision["shadow_decision"],
        "shadow rules": ", ".join(decision["shadow_rules"]),
        "logged by": ", ".join(decision["logged_rules"]),
    }
    for name, value in lines.items():
        if value:
            click.echo(f"  {name}: {value}")


# -- diff ----------------------------------------------------------------------------


@policy.command("diff")
@config_option
@json_option
@click.argument("old", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
def diff(config_file: Path | None, as_json: bool, old: Path, new: Path) -> None:
    """Show what changed from policy OLD to NEW (rules by id, classes, models, ...)."""
    config = load_cli_config(config_file)
    old_policy, old_cases = _load(config, old, as_json)
    new_policy, new_cases = _load(config, new, as_json)
    result = diff_policies(
        old_policy.document, new_policy.document, (len(old_cases), len(new_cases))
    )
    if as_json:
        echo_json({"old": old_policy.version, "new": new_policy.version, **result.to_json()})
        return
    _print_diff(old_policy.version, new_policy.version, result)


def _print_diff(old: str, new: str, result: PolicyDiff) -> None:
    click.echo(f"--- {old}\n+++ {new}")
    if result.empty:
        click.echo("no structural change")
        return
    for change in result.header:
        click.echo(f"{_change(change)}")
    for title, section in (
        ("classes", result.classes),
        ("models", result.models),
        ("rules", result.rules),
        ("exceptions", result.exceptions),
    ):
        if not section.empty:
            click.echo(f"{title}:")
            _print_section(section)
    if result.tests[0] != result.tests[1]:
        click.echo(f"tests: {result.tests[0]} -> {result.tests[1]}")


def _print_section(section: Section) -> None:
    for name in section.added:
        click.echo(f"  + {name}")
    for name in section.removed:
        click.echo(f"  - {name}")
    for name, changes in section.changed.items():
        click.echo(f"  ~ {name}")
        for change in changes:
            click.echo(f"      {_change(change)}")
    for name, (before, after) in section.moved.items():
        click.echo(f"  ~ {name}: position {before} -> {after}")


def _change(change: Change) -> str:
    return f"{change.key}: {_value(change.old)} -> {_value(change.new)}"


def _value(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


from bastion.cli.policy_replay import replay  # noqa: E402 (kept apart, at the end)

policy.add_command(replay)
