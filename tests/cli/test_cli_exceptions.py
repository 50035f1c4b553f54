"""``bastion exceptions`` end to end through click, against a SQLite file (and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.cli.main import cli
from bastion.storage import Database, ExceptionRepository

REQUEST = (
    "exceptions", "request", "--rule", "secrets.block", "--app", "helpdesk",
    "--justification", "vendor migration", "--expires", "30d",
)  # fmt: skip


def run(config_file: Path, *args: str, token: str | None = None) -> Result:
    env = {"BASTION_ADMIN_TOKEN": token} if token else None
    return CliRunner().invoke(cli, [*args, "--config", str(config_file)], env=env)


def run_json(config_file: Path, *args: str, token: str | None = None) -> Any:
    result = run(config_file, *args, "--json", token=token)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def admin_token(config_file: Path, subject: str, role: str = "security") -> str:
    created = run_json(config_file, "admin-token", "create", "--role", role, "--subject", subject)
    return str(created["token"])


def listed_ids(config_file: Path, *args: str) -> list[str]:
    return [e["id"] for e in run_json(config_file, "exceptions", "list", *args)]


def test_lifecycle_request_approve_list_revoke(config_file: Path) -> None:
    requested = run_json(config_file, *REQUEST, "--team", "support", "--owner", "ops")
    exc_id = requested["id"]
    assert exc_id.startswith("exc_")
    assert requested["state"] == "requested"
    assert requested["scope"] == {"app": "helpdesk", "team": "support"}
    assert (requested["requester"], requested["owner"]) == ("local-admin", "ops")

    security = admin_token(config_file, "sec-lead")
    approved = run_json(
        config_file, "exceptions", "approve", exc_id, "--note", "ok", token=security
    )
    assert (approved["state"], approved["approver"]) == ("approved", "sec-lead")
    assert approved["decision_note"] == "ok"

    assert listed_ids(config_file, "--state", "approved") == [exc_id]
    assert listed_ids(config_file, "--app", "helpdesk") == [exc_id]
    assert listed_ids(config_file, "--app", "billing") == []
    assert listed_ids(config_file, "--state", "requested") == []
    table = run(config_file, "exceptions", "list")
    assert table.exit_code == 0
    row = next(line for line in table.output.splitlines() if line.startswith(exc_id))
    assert "approved" in row and "sec-lead" in row and "app=helpdesk,team=support" in row

    revoked = run(config_file, "exceptions", "revoke", exc_id, token=security)
    assert revoked.exit_code == 0 and f"Revoked exception {exc_id}" in revoked.output
    assert listed_ids(config_file, "--state", "revoked") == [exc_id]
    shown = run_json(config_file, "exceptions", "show", exc_id)
    assert (shown["state"], shown["decided_by"], shown["approver"]) == (
        "revoked",
        "sec-lead",
        "sec-lead",
    )
    again = run(config_file, "exceptions", "revoke", exc_id, token=security)
    assert again.exit_code == 1 and "it is revoked" in again.output


def test_a_rule_the_active_policy_lacks_is_kept_with_a_warning(config_file: Path) -> None:
    """A mistyped rule id waives nothing: the request says so (it is kept, as it may be
    for a rule still to come); a rule of the policy, or a built-in check, passes quietly."""
    (config_file.parent / "policy.yaml").write_text(
        'name: p\nversion: "1"\nrules:\n'
        "  - {id: secrets.block, match: {classes: ['secret.*']}, action: block}\n",
        encoding="utf-8",
    )
    with config_file.open("a", encoding="utf-8") as config:
        config.write("policy: {file: policy.yaml}\n")
    known = run(config_file, *REQUEST)
    assert known.exit_code == 0 and "warning" not in known.stderr
    built_in = run(config_file, *REQUEST[:2], "--rule", "model.max_sensitivity", *REQUEST[4:])
    assert built_in.exit_code == 0 and "warning" not in built_in.stderr
    typo = run(config_file, *REQUEST[:2], "--rule", "secret.block", *REQUEST[4:])
    assert typo.exit_code == 0 and "Requested exception" in typo.stdout
    assert "has no rule 'secret.block': this exception waives nothing" in typo.stderr


WAIVABLE = """\
name: p
version: "1"
rules:
  - {id: secrets.block, match: {classes: ['secret.*']}, action: block}
  - {id: docs.allow, match: {app: docs}, action: allow}
tools:
  offer: [{id: tools.all, allow: ["*"]}]
"""


def _with_policy(config_file: Path, text: str) -> Path:
    policy = config_file.parent / "policy.yaml"
    policy.write_text(text, encoding="utf-8")
    with config_file.open("a", encoding="utf-8") as config:
        config.write("policy: {file: policy.yaml}\n")
    return policy


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        pytest.param("docs.allow", "is an allow rule: it refuses no call", id="allow-rule"),
        pytest.param("model.unapproved", "only the policy approves models", id="model-approval"),
        pytest.param("tools.all", "exceptions do not waive tool rules", id="tool-offer"),
        pytest.param("tools.max_calls", "exceptions do not waive tool rules", id="tool-built-in"),
    ],
)
def test_an_exception_to_a_rule_that_refuses_nothing_is_a_usage_error(
    config_file: Path, rule: str, why: str
) -> None:
    _with_policy(config_file, WAIVABLE)
    refused = run(config_file, *REQUEST[:2], "--rule", rule, *REQUEST[4:])
    assert refused.exit_code == 2, refused.output
    assert f"Invalid value for --rule: rule {rule!r}" in refused.output
    assert why in refused.output and "p@1+" in refused.output
    assert listed_ids(config_file) == []


def test_a_request_whose_rule_became_an_allow_rule_cannot_be_approved(config_file: Path) -> None:
    policy = _with_policy(config_file, WAIVABLE)
    exc_id = run_json(config_file, *REQUEST)["id"]
    kept = run_json(config_file, *REQUEST)["id"]
    security = admin_token(config_file, "sec-lead")
    run_json(config_file, "exceptions", "approve", kept, token=security)
    policy.write_text(WAIVABLE.replace("action: block", "action: allow"), encoding="utf-8")
    activated = run(config_file, "policy", "activate", str(policy))
    assert activated.exit_code == 0, activated.output

    refused = run(config_file, "exceptions", "approve", exc_id, token=security)
    assert refused.exit_code == 1, refused.output
    assert f"exception {exc_id} cannot be approved: rule 'secrets.block' is an allow rule" in (
        refused.output
    )
    assert "Deny it instead" in refused.output
    assert run_json(config_file, "exceptions", "show", exc_id)["state"] == "requested"
    denied = run_json(config_file, "exceptions", "deny", exc_id, token=security)
    assert denied["state"] == "denied"
    # one approved before the change stays as it was: it waives nothing now, harmlessly
    assert run_json(config_file, "exceptions", "show", kept)["state"] == "approved"
    revoked = run(config_file, "exceptions", "revoke", kept, token=security)
    assert revoked.exit_code == 0, revoked.output


def test_a_blank_scope_option_is_refused_not_dropped(config_file: Path) -> None:
    # `--app "$APP" --team support` with APP unset waived the rule for the whole team
    args = ("exceptions", "request", "--rule", "secrets.block", "--app", "", "--team", "support",
            "--justification", "j", "--expires", "1d")  # fmt: skip
    blank = run(config_file, *args)
    assert blank.exit_code == 1 and "scope.app is empty" in blank.output
    assert listed_ids(config_file) == []


def test_show_prints_a_justification_without_its_control_characters(config_file: Path) -> None:
    # the requester (an app owner, through the admin API) writes the justification; an
    # OSC 52 sequence in it would set the clipboard of the admin who runs `show`
    sneaky = "rotation\x1b]52;c;cm0gLXJmIH4=\x07\nowner:         forged"
    requested = run_json(config_file, *REQUEST[:6], "--justification", sneaky, "--expires", "30d")
    shown = run(config_file, "exceptions", "show", requested["id"])
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output
    assert "justification:  rotation?]52;c;cm0gLXJmIH4=??owner:         forged\n" in shown.output
    assert run_json(config_file, "exceptions", "show", requested["id"])["justification"] == sneaky


def test_the_approver_sets_a_shorter_expiry_and_a_past_one_is_refused(config_file: Path) -> None:
    exc_id = run_json(config_file, *REQUEST)["id"]  # asked for 30 days
    security = admin_token(config_file, "sec-lead")
    past = run(
        config_file, "exceptions", "approve", exc_id, "--expires", "2020-01-01", token=security
    )
    assert past.exit_code != 0 and "in the past" in past.output
    assert run_json(config_file, "exceptions", "show", exc_id)["state"] == "requested"

    approved = run_json(
        config_file, "exceptions", "approve", exc_id, "--expires", "2d", token=security
    )
    ends = datetime.fromisoformat(approved["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=1, hours=23) < ends - datetime.now(UTC) <= timedelta(days=2)


def test_local_admin_cannot_approve_its_own_request_and_is_told_how(config_file: Path) -> None:
    exc_id = run_json(config_file, *REQUEST)["id"]
    refused = run(config_file, "exceptions", "approve", exc_id)
    assert refused.exit_code == 1
    assert "approver must be someone else" in refused.output
    assert "bastion admin-token create --role security" in refused.output
    assert run_json(config_file, "exceptions", "show", exc_id)["state"] == "requested"


def test_a_token_subject_cannot_approve_its_own_request(config_file: Path) -> None:
    ana = admin_token(config_file, "ana")
    exc_id = run_json(config_file, *REQUEST, token=ana)["id"]
    refused = run(config_file, "exceptions", "approve", exc_id, token=ana)
    assert refused.exit_code == 1 and "'ana' requested it" in refused.output
    assert listed_ids(config_file, "--state", "requested") == [exc_id]


def test_approving_a_denied_exception_fails(config_file: Path) -> None:
    exc_id = run_json(config_file, *REQUEST)["id"]
    security = admin_token(config_file, "sec-lead")
    denied = run(
        config_file, "exceptions", "deny", exc_id, "--note", "use a test key", token=security
    )
    assert denied.exit_code == 0 and f"Denied exception {exc_id}" in denied.output
    refused = run(config_file, "exceptions", "approve", exc_id, token=security)
    assert refused.exit_code == 1
    assert "it is denied; only requested exceptions can be approved" in refused.output
    assert run_json(config_file, "exceptions", "show", exc_id)["state"] == "denied"


def test_an_exception_past_its_expiry_shows_as_expired(config_file: Path) -> None:
    url = f"sqlite:///{config_file.parent / 'data' / 'bastion.db'}"
    run_json(config_file, "exceptions", "list")  # creates and migrates the store
    past = datetime.now(UTC) - timedelta(days=10)

    async def approved_last_week() -> str:
        database = Database.from_url(url)
        try:
            repo = ExceptionRepository(database)
            stored = await repo.request(
                rule="secrets.block",
                scope={"app": "helpdesk"},
                justification="one week",
                expires_at=past + timedelta(days=7),
                requester="ana",
                now=past,
            )
            await repo.approve(stored.id, approver="sec-lead", now=past)
            return stored.id
        finally:
            await database.close()

    exc_id = asyncio.run(approved_last_week())
    assert listed_ids(config_file, "--state", "expired") == [exc_id]
    assert listed_ids(config_file, "--state", "approved") == []
    assert run_json(config_file, "exceptions", "show", exc_id)["state"] == "expired"
    table = run(config_file, "exceptions", "list").output
    assert "expired" in next(line for line in table.splitlines() if line.startswith(exc_id))
    refused = run(config_file, "exceptions", "revoke", exc_id)
    assert refused.exit_code == 1 and "it is expired" in refused.output


def test_roles_decide_who_may_request_and_decide(config_file: Path) -> None:
    auditor = admin_token(config_file, "eve", role="auditor")
    refused = run(config_file, *REQUEST, token=auditor)
    assert refused.exit_code == 1 and "may not request exceptions" in refused.output
    assert run(config_file, "exceptions", "list", token=auditor).exit_code == 0

    owner = admin_token(config_file, "app-team", role="app_owner")
    not_yet = run(config_file, *REQUEST, token=owner)  # owns no key of helpdesk yet
    assert not_yet.exit_code == 1 and "only for its own apps" in not_yet.output
    key = ("keys", "create", "--name", "hd", "--app", "helpdesk", "--owner", "app-team")
    assert run(config_file, *key, token=owner).exit_code == 0
    own = run_json(config_file, *REQUEST, token=owner)["id"]
    other = run_json(config_file, *REQUEST)["id"]
    approve = run(config_file, "exceptions", "approve", other, token=owner)
    assert approve.exit_code == 1 and "may not approve exceptions" in approve.output
    deny_other = run(config_file, "exceptions", "deny", other, token=owner)
    assert deny_other.exit_code == 1 and "may not deny others' exceptions" in deny_other.output
    withdrawn = run_json(
        config_file, "exceptions", "deny", own, "--note", "not needed", token=owner
    )
    assert (withdrawn["state"], withdrawn["decided_by"]) == ("denied", "app-team")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "r", "--justification", "j", "--expires", "1d"], "give the scope"),
        (["--rule", "r", "--app", "a", "--expires", "1d"], "--justification"),
        (["--rule", "r", "--app", "a", "--justification", "j"], "--expires"),
        (["--rule", "r", "--app", "a", "--justification", "j", "--expires", "soon"], "duration"),
        (["--rule", "r", "--app", "a", "--justification", "j", "--expires", "2001-01-01"], "past"),
    ],
)
def test_request_usage_errors_exit_2(config_file: Path, args: list[str], message: str) -> None:
    result = run(config_file, "exceptions", "request", *args)
    assert result.exit_code == 2 and message in result.output
    assert listed_ids(config_file) == []


def test_unknown_rule_syntax_and_ids_fail_with_exit_1(config_file: Path) -> None:
    bad = run(config_file, *REQUEST[:3], "Block Secrets", *REQUEST[4:])
    assert bad.exit_code == 1 and "is not a rule id" in bad.output
    missing = run(config_file, "exceptions", "show", "exc_nope")
    assert missing.exit_code == 1 and "no exception with id 'exc_nope'" in missing.output
    assert run(config_file, "exceptions", "list", "--state", "lost").exit_code == 2


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/secret-token", received
    finally:
        server.shutdown()
        server.server_close()


def test_each_change_is_posted_to_the_webhook(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(
        f'storage: {{url: "sqlite:///data/bastion.db"}}\npolicy: {{exception_webhook: "{url}"}}\n',
        encoding="utf-8",
    )
    exc_id = run_json(config_file, *REQUEST)["id"]
    run_json(config_file, "exceptions", "approve", exc_id, token=admin_token(config_file, "sec"))
    assert [(r["event"], r["actor"], r["exception"]["id"]) for r in received] == [
        ("exception.requested", "local-admin", exc_id),
        ("exception.approved", "sec", exc_id),
    ]
    assert received[1]["exception"]["state"] == "approved"


def test_a_failing_webhook_warns_without_undoing_the_change(tmp_path: Path) -> None:
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(
        'storage: {url: "sqlite:///data/bastion.db"}\n'
        'policy: {exception_webhook: "http://127.0.0.1:9/hooks/secret-token"}\n',
        encoding="utf-8",
    )
    result = run(config_file, *REQUEST)
    assert result.exit_code == 0
    assert "exception webhook at 127.0.0.1 failed" in result.stderr
    assert "secret-token" not in result.output
    assert len(listed_ids(config_file, "--state", "requested")) == 1


@pytest.mark.postgres
def test_exceptions_on_postgres_need_tokens(postgres_url: str, tmp_path: Path) -> None:
    config_file = tmp_path / "pg.yaml"
    config_file.write_text(f'storage: {{url: "{postgres_url}"}}\n', encoding="utf-8")
    refused = run(config_file, *REQUEST)
    assert refused.exit_code == 1 and "admin token" in refused.output
    root = admin_token(config_file, "root", role="admin")  # the bootstrap token
    exc_id = run_json(config_file, *REQUEST, token=root)["id"]
    assert run(config_file, "exceptions", "approve", exc_id, token=root).exit_code == 1
    security = run_json(
        config_file, "admin-token", "create", "--role", "security", "--subject", "sec", token=root
    )["token"]
    approved = run_json(config_file, "exceptions", "approve", exc_id, token=security)
    assert (approved["requester"], approved["approver"]) == ("root", "sec")
