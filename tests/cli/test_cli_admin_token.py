"""``bastion admin-token`` through click, against a SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from bastion.audit.admin_events import ADMIN_WRITER
from bastion.cli.main import cli
from bastion.storage import Database
from bastion.storage.audit_events import AuditEventRepository


def run(config_file: Path, *args: str, token: str | None = None) -> Result:
    env = {"BASTION_ADMIN_TOKEN": token} if token else None
    return CliRunner().invoke(cli, ["admin-token", *args, "--config", str(config_file)], env=env)


def run_json(config_file: Path, *args: str, token: str | None = None) -> Any:
    result = run(config_file, *args, "--json", token=token)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_create_list_revoke(config_file: Path) -> None:
    created = run_json(config_file, "create", "--role", "auditor", "--subject", "eve")
    assert created["token"].startswith(f"bat_{created['id']}_")
    assert (created["subject"], created["role"]) == ("eve", "auditor")
    listed = run_json(config_file, "list")
    assert listed == [{k: created[k] for k in listed[0]}]
    assert created["token"] not in json.dumps(listed)
    assert run(config_file, "revoke", created["id"]).exit_code == 0
    assert run_json(config_file, "list") == []
    assert run_json(config_file, "list", "--all")[0]["revoked_at"] is not None
    again = run(config_file, "revoke", created["id"])
    assert again.exit_code == 1 and "no active admin token" in again.output


def test_revoking_an_unknown_long_token_id_does_not_echo_it_whole(config_file: Path) -> None:
    result = run(config_file, "revoke", "t" * 10_000)
    assert result.exit_code == 1
    assert f"no active admin token with id {'t' * 64!r}" in result.output
    assert "t" * 65 not in result.output and len(result.output) < 300


def admin_events(config_file: Path) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        database = Database.from_url(f"sqlite:///{config_file.parent / 'data' / 'bastion.db'}")
        try:
            pages = AuditEventRepository(database).events(ADMIN_WRITER)
            return [orjson.loads(event.body) async for page in pages for event in page]
        finally:
            await database.close()

    return asyncio.run(read())


def test_creating_and_revoking_tokens_are_admin_events(config_file: Path) -> None:
    # who was given which role is governed state: on the admin chain like a key.create
    root = run_json(config_file, "create", "--role", "admin", "--subject", "root")
    by_root = root["token"]
    created = run_json(
        config_file, "create", "--role", "security", "--subject", "sec", token=by_root
    )
    assert run(config_file, "revoke", created["id"], token=by_root).exit_code == 0
    events = [
        (e["action"], e["target"], e["actor"], e["details"]) for e in admin_events(config_file)
    ]
    assert events == [
        ("admin_token.create", root["id"], "local-admin", {"subject": "root", "role": "admin"}),
        ("admin_token.create", created["id"], "root", {"subject": "sec", "role": "security"}),
        ("admin_token.revoke", created["id"], "root", {}),
    ]
    assert created["token"] not in json.dumps(admin_events(config_file))


def test_plain_create_shows_the_token_once(config_file: Path) -> None:
    result = run(config_file, "create", "--role", "admin")
    assert result.exit_code == 0
    assert "shown only once" in result.output
    assert any(word.startswith("bat_") for word in result.output.split())


def test_token_roles_limit_what_the_cli_may_do(config_file: Path) -> None:
    auditor = run_json(config_file, "create", "--role", "auditor", "--subject", "eve")["token"]
    refused = run(config_file, "create", "--role", "admin", token=auditor)
    assert refused.exit_code == 1 and "admin role" in refused.output
    assert run(config_file, "list", token=auditor).exit_code == 0
    owner = run_json(config_file, "create", "--role", "app_owner", "--subject", "team-a")
    result = CliRunner().invoke(
        cli,
        ["keys", "create", "--name", "n", "--owner", "team-b", "--config", str(config_file)],
        env={"BASTION_ADMIN_TOKEN": owner["token"]},
    )
    assert result.exit_code == 1 and "may not manage" in result.output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["create"], id="missing-role"),
        pytest.param(["create", "--role", "root"], id="unknown-role"),
        pytest.param(["create", "--role", "app_owner"], id="app-owner-without-subject"),
        pytest.param(["create", "--role", "admin", "--subject", "  "], id="blank-subject"),
        pytest.param(["create", "--role", "app_owner", "--subject", " "], id="blank-owner"),
        pytest.param(["create", "--role", "auditor", "--subject", "s" * 201], id="long-subject"),
    ],
)
def test_usage_errors_exit_2(config_file: Path, args: list[str]) -> None:
    result = run(config_file, *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
