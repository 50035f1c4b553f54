"""Entry point of the ``bastion`` command: registers the command groups lazily."""

from __future__ import annotations

import importlib
from typing import Any

import click

# command name -> "module:attribute"; modules load only when their command runs.
COMMANDS: dict[str, str] = {
    "serve": "bastion.cli.serve:serve",
    "simulate": "bastion.cli.simulate:simulate",
    "keys": "bastion.cli.keys:keys",
    "exceptions": "bastion.cli.exceptions:exceptions",
    "admin-token": "bastion.cli.admin_token:admin_token",
    "config": "bastion.cli.config_cmd:config",
    "eval": "bastion.cli.eval_cmd:eval_group",
    "scan": "bastion.cli.scan:scan",
    "classes": "bastion.cli.scan:classes",
    "crypto": "bastion.cli.crypto:crypto",
    "policy": "bastion.cli.policy:policy",
    "audit": "bastion.cli.audit:audit",
    "budgets": "bastion.cli.budgets:budgets",
    "usage": "bastion.cli.budgets:usage",
    "report": "bastion.cli.report:report",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        return command  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bastion-gateway")
def cli() -> None:
    """Bastion: a governance gateway for the OpenAI API."""


def main() -> None:
    """Run the ``bastion`` command."""
    cli()
