"""``bastion policy activate | rollback | history | show`` through click, on a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bastion.cli.main import cli

V1 = """\
name: team
version: v1
rules:
  - id: mail.redact
    match: {classes: [pii.email]}
    action: redact
"""
V2 = V1.replace("version: v1", "version: v2").replace("action: redact", "action: block")
INVALID = """\
name: team
version: v3
rules:
  - id: mail.redact
    match: {classes: [pii.emial]}
    action: redact
"""


def run(config_file: Path, *args: str, token: str | None = None) -> Result:
    env = {"BASTION_ADMIN_TOKEN": token} if token else None
    return CliRunner().invoke(cli, ["policy", *args, "--config", str(config_file)], env=env)


def run_json(config_file: Path, *args: str, token: str | None = None) -> Any:
    result = run(config_file, *args, "--json", token=token)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def admin_token(config_file: Path, subject: str, role: str) -> str:
    args = ["admin-token", "create", "--role", role, "--subject", subject, "--json"]
    result = CliRunner().invoke(cli, [*args, "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["token"])


def test_activate_history_rollback_show(config_file: Path, tmp_path: Path) -> None:
    v1, v2 = write(tmp_path, "v1.yaml", V1), write(tmp_path, "v2.yaml", V2)
    first = run(config_file, "activate", str(v1))
    assert first.exit_code == 0, first.output
    assert first.output.startswith("Activated team@v1+")
    security = admin_token(config_file, "sec-lead", "security")
    second = run_json(config_file, "activate", str(v2), token=security)
    assert second["changed"] is True and second["version"].startswith("team@v2+")
    assert second["source"] == str(v2.resolve())

    history = run_json(config_file, "history")
    assert [(h["version"][:7], h["activated_by"], h["reason"]) for h in history] == [
        ("team@v2", "sec-lead", "activate"),
        ("team@v1", "local-admin", "activate"),
    ]
    assert run(config_file, "show").output == V2

    rolled = run(config_file, "rollback", token=security)
    assert rolled.exit_code == 0, rolled.output
    assert rolled.output.startswith("Rolled back to team@v1+")
    assert "it was team@v2+" in rolled.output
    assert run(config_file, "show").output == V1
    shown = run_json(config_file, "show", second["digest"][:8])
    assert (shown["content"], shown["active"]) == (V2, False)

    table = run(config_file, "history", "--limit", "2")
    lines = table.output.splitlines()
    assert lines[0].split() == ["WHEN", "BY", "REASON", "ID", "VERSION"]
    assert len(lines) == 3 and "rollback" in lines[1] and "(active)" in lines[1]


def test_activating_the_active_file_again_changes_nothing(
    config_file: Path, tmp_path: Path
) -> None:
    v1 = write(tmp_path, "v1.yaml", V1)
    assert run_json(config_file, "activate", str(v1))["changed"] is True
    again = run(config_file, "activate", str(v1))
    assert again.exit_code == 0 and "is already the active policy" in again.output
    assert len(run_json(config_file, "history")) == 1


def test_an_invalid_file_is_rejected_with_file_and_line(config_file: Path, tmp_path: Path) -> None:
    v1 = write(tmp_path, "v1.yaml", V1)
    run_json(config_file, "activate", str(v1))
    bad = write(tmp_path, "bad.yaml", INVALID)
    result = run(config_file, "activate", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:5:" in result.output and "pii.emial" in result.output
    as_json = run(config_file, "activate", str(bad), "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["ok"] is False
    (only,) = run_json(config_file, "history")
    assert only["version"].startswith("team@v1+")  # the old policy stays active


def test_roles_other_than_admin_and_security_may_not_activate(
    config_file: Path, tmp_path: Path
) -> None:
    v1, v2 = write(tmp_path, "v1.yaml", V1), write(tmp_path, "v2.yaml", V2)
    run_json(config_file, "activate", str(v1))
    run_json(config_file, "activate", str(v2))
    auditor = admin_token(config_file, "aud", "auditor")
    refused = run(config_file, "activate", str(v1), token=auditor)
    assert refused.exit_code == 1
    assert "'aud' has the role 'auditor' and may not activate policies" in refused.output
    rollback = run(config_file, "rollback", token=auditor)
    assert rollback.exit_code == 1 and "may not roll back policies" in rollback.output
    # reading is allowed, and nothing changed
    assert len(run_json(config_file, "history", token=auditor)) == 2


def test_rollback_and_show_on_an_empty_store_say_what_to_do(config_file: Path) -> None:
    rollback = run(config_file, "rollback")
    assert rollback.exit_code == 1 and "bastion policy activate FILE" in rollback.output
    show = run(config_file, "show")
    assert show.exit_code == 1 and "no policy is active" in show.output
    history = run(config_file, "history")
    assert history.exit_code == 0 and "No policy was ever activated" in history.output


def test_show_rejects_a_reference_that_names_no_version(config_file: Path) -> None:
    result = run(config_file, "show", "abc")
    assert result.exit_code == 1 and "at least 8 hex digits" in result.output
