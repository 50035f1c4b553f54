"""Start-up of the ``bastion`` command: each command imports only what it runs.

The end-to-end tests and operators' scripts run the CLI many times; importing the
detectors (numpy, the injection model), the policy compiler or the HTTP clients for a
command that uses none of them cost over a second each time. Each case runs the command
in a fresh interpreter and lists which heavy modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bastion.cli.main import COMMANDS, cli

# Loaded by the detectors, the guardrails and the exception webhook: none of them is
# needed to list or create keys, or to print help.
HEAVY = (
    "bastion.detect.injection",
    "bastion.detect.catalog",
    "bastion.pipeline.guardrails",
    "bastion.pipeline.active_policy",
    "bastion.pipeline.exception_webhook",
    "aiohttp",
    "numpy",
    "redis",
)
# The store as well: help needs no database.
HELP_HEAVY = (*HEAVY, "sqlalchemy", "bastion.storage", "bastion.pipeline.governance")

_RUN = """
import json, sys
from bastion.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="bastion")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _run(*args: str) -> tuple[int, set[str], str]:
    """Run ``bastion ARGS`` in a new interpreter: exit code, modules loaded, output."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    last = done.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    return result["code"], set(result["modules"]), done.stdout + done.stderr


def _loaded(modules: set[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted(name for name in heavy if name in modules)


@pytest.mark.parametrize("args", [["--help"], ["keys", "--help"], ["keys", "list", "--help"]])
def test_help_loads_no_command_machinery(args: list[str]) -> None:
    code, modules, output = _run(*args)
    assert code == 0, output
    assert "Usage: bastion" in output
    assert _loaded(modules, HELP_HEAVY) == []


def test_help_imports_no_command_module() -> None:
    code, modules, output = _run("--help")
    assert code == 0, output
    command_modules = {target.split(":")[0] for target, _ in COMMANDS.values()}
    assert sorted(command_modules & modules) == []
    for name in COMMANDS:
        assert f"\n  {name} " in output


def test_keys_list_and_create_load_no_detectors(config_file: Path) -> None:
    code, modules, output = _run("keys", "create", "--config", str(config_file), "--name", "ci")
    assert code == 0, output
    assert "Created key" in output
    assert _loaded(modules, HEAVY) == []

    code, modules, output = _run("keys", "list", "--config", str(config_file))
    assert code == 0, output
    assert "ci" in output
    assert _loaded(modules, (*HEAVY, "alembic")) == []  # the store is current: no migration


@pytest.mark.parametrize(
    "args",
    [
        ["exceptions", "list"],
        ["config", "show"],
        ["admin-token", "list"],
        ["console", "sign-out", "--all"],
    ],
)
def test_commands_without_policy_load_no_detectors(config_file: Path, args: list[str]) -> None:
    code, modules, output = _run(*args, "--config", str(config_file))
    assert code == 0, output
    assert _loaded(modules, HEAVY) == []


def test_usage_error_loads_no_store(config_file: Path) -> None:
    code, modules, output = _run("keys", "list", "--config", str(config_file), "--bad")
    assert code == 2, output  # a usage error: nothing beyond the config loads
    assert _loaded(modules, HELP_HEAVY) == []


@pytest.mark.parametrize("width", [60, 80, 120])
def test_help_lists_each_command_with_its_own_help(width: int) -> None:
    """The command list comes from COMMANDS; it reads as click would print it from
    the commands themselves (a command whose docstring changed fails here)."""
    ctx = click.Context(cli, info_name="bastion", max_content_width=width, terminal_width=width)
    from_table = ctx.make_formatter()
    cli.format_commands(ctx, from_table)
    from_commands = ctx.make_formatter()
    click.Group.format_commands(cli, ctx, from_commands)
    assert from_table.getvalue() == from_commands.getvalue()
    assert "keys" in from_table.getvalue()
