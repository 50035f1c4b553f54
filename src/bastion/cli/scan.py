"""``bastion scan`` and ``bastion classes`` (CONTRACT.md §8): the detectors from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import click

from bastion.cli._context import config_option, json_option, load_cli_config
from bastion.config import BastionConfig
from bastion.crypto.keyring import Keyring, load_keyring
from bastion.crypto.location import keyring_location
from bastion.detect.catalog import build_scanner, class_registry
from bastion.detect.report import scan_report
from bastion.detect.scanner import Scanner
from bastion.errors import BastionError

SOURCES = ("user", "system", "retrieved", "tool_result")
_source_option = click.option(
    "--source",
    type=click.Choice(SOURCES),
    default="user",
    show_default=True,
    help="How the text reaches the model (injection detectors are stricter on retrieved).",
)


def _keyring(config: BastionConfig, explicit: bool) -> Keyring:
    """The deployment's ring when there is one, so fingerprints match the audit log;
    without a config and without a ring, an ephemeral one (nothing is written)."""
    try:
        path, generate = keyring_location(config)
    except BastionError:
        return Keyring.generate()
    if path is None or not (explicit or path.exists()):
        return Keyring.generate()
    return load_keyring(path, generate=generate)


def _setup(config_file: Path | None) -> tuple[Scanner, Keyring]:
    config = load_cli_config(config_file)
    try:
        return build_scanner(config.detectors), _keyring(config, config_file is not None)
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("scan")
@config_option
@_source_option
@click.option("--jsonl", is_flag=True, help="Input is JSON lines with a string `text`.")
@click.option("--all-scores", is_flag=True, help="Also list candidates below the threshold.")
@click.argument("path", type=click.Path(allow_dash=True, dir_okay=False, path_type=Path))
def scan(config_file: Path | None, source: str, jsonl: bool, all_scores: bool, path: Path) -> None:
    """Print what the detectors find in TEXTFILE (or `-` for stdin) as JSON.

    Exit 0 whether or not anything was found: findings are data, not failures.
    """
    scanner, keyring = _setup(config_file)
    with _open(path) as handle:
        if not jsonl:
            result = scanner.scan(handle.read(), source, all_scores=all_scores)
            click.echo(json.dumps(scan_report(result, keyring, all_scores=all_scores)))
            return
        for line in handle:
            click.echo(json.dumps(_scan_line(line, scanner, keyring, source, all_scores)))


def _scan_line(
    line: str, scanner: Scanner, keyring: Keyring, default_source: str, all_scores: bool
) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        return {"error": "not a JSON object"}
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return {"error": "each line needs a string `text`"}
    line_source = item.get("source", default_source)
    if line_source not in SOURCES:
        return {"error": f"source must be one of {', '.join(SOURCES)}"}
    result = scanner.scan(item["text"], line_source, all_scores=all_scores)
    return scan_report(result, keyring, all_scores=all_scores)


def _open(path: Path) -> IO[str]:
    try:
        handle: IO[str] = click.open_file(str(path), encoding="utf-8", errors="replace")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    return handle


@click.command("classes")
@config_option
@json_option
def classes(config_file: Path | None, as_json: bool) -> None:
    """List every data class: sensitivity, tier, whether it is active, what it is."""
    config = load_cli_config(config_file)
    try:
        registry = class_registry(config.detectors)
    except BastionError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [
        {
            "class": info.name,
            "sensitivity": info.sensitivity,
            "tier": info.tier,
            "active": info.active,
            "description": info.description,
        }
        for info in registry.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(name) for name in registry)
    for info in registry.values():
        state = "" if info.active else "  (inactive)"
        click.echo(f"{info.name:<{width}}  {info.sensitivity:<12}  {info.tier:<8}{state}")
