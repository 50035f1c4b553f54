"""Entry point of the ``bastion`` command: registers the command groups lazily."""

from __future__ import annotations

import importlib
from typing import Any

import click

# command name -> ("module:attribute", the command's one-line help). Modules load only
# when their command runs: `bastion --help` lists the commands from this table, so that
# it does not import every command (and the detectors, database and HTTP clients they
# need). tests/cli/test_cli_startup.py checks each line against the command's own help.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": (
        "bastion.cli.serve:serve",
        "Run the gateway: the OpenAI-compatible proxy and the admin port.",
    ),
    "simulate": (
        "bastion.cli.simulate:simulate",
        "Run the OpenAI-wire upstream simulator (echo answers, scripted replies, faults).",
    ),
    "keys": ("bastion.cli.keys:keys", "Create, list, revoke and rotate gateway keys."),
    "exceptions": (
        "bastion.cli.exceptions:exceptions",
        "Request, approve, deny, revoke and list policy exceptions.",
    ),
    "admin-token": (
        "bastion.cli.admin_token:admin_token",
        "Create, list and revoke admin tokens (for the CLI, admin API and console).",
    ),
    "config": ("bastion.cli.config_cmd:config", "Inspect and check the configuration file."),
    "console": (
        "bastion.cli.console_cmd:console",
        "List console sessions, or end them: every one, or one person's.",
    ),
    "eval": ("bastion.cli.eval_cmd:eval_group", "Measure detector accuracy on labelled data."),
    "scan": (
        "bastion.cli.scan:scan",
        "Print what the detectors find in TEXTFILE (or `-` for stdin) as JSON.",
    ),
    "classes": (
        "bastion.cli.scan:classes",
        "List every data class: sensitivity, tier, whether it is active, what it is.",
    ),
    "crypto": ("bastion.cli.crypto:crypto", "Manage the keyring (never prints secrets)."),
    "policy": (
        "bastion.cli.policy:policy",
        "Validate, test, explain and compare policy files; activate and roll back.",
    ),
    "audit": ("bastion.cli.audit:audit", "Inspect the audit trail."),
    "budgets": (
        "bastion.cli.budgets:budgets",
        "Show every budget with settled spend this period, per scope: limit, spent, "
        "remaining, percent used and whether its soft threshold is reached.",
    ),
    "usage": (
        "bastion.cli.budgets:usage",
        "Show settled calls, prompt and completion tokens and cost in USD, grouped.",
    ),
    "report": (
        "bastion.cli.report:report",
        "Write the evidence report for a period: calls by environment, blocked and "
        "redacted requests, injections, exceptions by app owner, adoption by team, spend "
        "vs budget, top rules, policy versions, exceptions granted and expired, and the "
        "audit chain verification, each section mapped to the controls it evidences.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        return command  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from ``COMMANDS`` (nothing is imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bastion-gateway")
def cli() -> None:
    """Bastion: a governance gateway for the OpenAI API."""


def main() -> None:
    """Run the ``bastion`` command."""
    cli()
