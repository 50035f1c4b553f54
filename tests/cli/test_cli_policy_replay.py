"""``bastion policy replay`` on recorded traffic: calls run through an in-process gateway
(real detectors and policy, fake upstream) are recorded in a SQLite store, then
re-decided under candidate policies."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from bastion.audit.writer import AuditWriter
from bastion.cli.main import cli
from bastion.config import load_config
from bastion.errors import AuthenticationFailed
from bastion.model import AuthenticatedKey, Endpoint, Principal
from bastion.pipeline.context import IncomingCall, Reply
from bastion.pipeline.gateway import Gateway
from bastion.pipeline.guardrails import build_guardrails
from bastion.pipeline.parts import GatewayParts
from bastion.providers import UpstreamResponse
from bastion.storage import CallRecordRepository, Database
from bastion.storage.class_sets import ClassSetRepository

CURRENT = """\
name: company
version: v1
rules:
  - id: mail.redact
    match: {classes: [pii.email]}
    action: redact
    transform: mask
"""
STRICTER = CURRENT.replace("v1", "v2") + (
    '  - id: secrets.block\n    match: {classes: ["secret.*"]}\n    action: block\n'
)
NAMES = STRICTER.replace("v2", "v3") + (
    "  - id: names.block\n    match: {classes: [pii.person], app: [crm]}\n    action: block\n"
)
CONFIG = """\
storage: {{url: "sqlite:///data/bastion.db"}}
providers:
  up: {{kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-unused}}
models:
  gpt-4o: {{targets: [{{provider: up, model: gpt-4o}}]}}
policy: {{file: {policy}}}
detectors: {{second_tier: {{enabled: {tagger}}}}}
"""

PRINCIPALS = {
    "key-helpdesk": Principal("k1", "helpdesk bot", app="helpdesk", team="support"),
    "key-crm": Principal("k2", "crm sync", app="crm", team="sales"),
}
AWS = "deploy with aws_access_key_id=AKIAQ3EGRYV7WJ5XNT4M and region eu-west-1"
MAIL = "Write to dana.whitfield@northwind-example.com please"
TRAFFIC = [
    ("key-helpdesk", AWS),  # allowed then, blocked by the candidate
    ("key-helpdesk", MAIL),  # redacted then and now
    ("key-crm", "hello there, how are you"),
    ("key-crm", AWS),
]


class Keys:
    async def verify(self, presented: str | None) -> AuthenticatedKey:
        if presented not in PRINCIPALS:
            raise AuthenticationFailed("Incorrect API key provided.")
        return AuthenticatedKey(PRINCIPALS[presented])


ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
    ],
    "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
}


class Upstream:
    async def send(
        self, public_model: str, endpoint: Endpoint, body: dict[str, Any], *, stream: bool
    ) -> UpstreamResponse:
        return UpstreamResponse(
            200, orjson.dumps(ANSWER), {}, "up", public_model, public_model, 1, 1.0
        )


async def _record(
    config_path: Path, traffic: list[tuple[str, str]], *, prefix: str, class_set: bool
) -> None:
    """Run ``traffic`` through a gateway built from the config; records go to its store."""
    config = load_config(config_path)
    database = Database.from_url(config.storage.url)
    await database.migrate()
    try:
        guardrails = build_guardrails(config)
        digest = None
        if class_set:  # as the runtime does at start; older gateways did not
            digest = await ClassSetRepository(database).save(guardrails.class_set)
        audit = AuditWriter(CallRecordRepository(database))
        gateway = Gateway(
            GatewayParts(
                verifier=Keys(),
                router=Upstream(),
                audit=audit,
                models=config.models,
                inspector=guardrails.inspector,
                decider=guardrails.decider,
                transformer=guardrails.transformer,
                class_set=digest,
            )
        )
        for index, (key, text) in enumerate(traffic):
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
            call = IncomingCall(
                Endpoint.CHAT, orjson.dumps(body), key, f"req_{prefix}{index}", time.time()
            )
            reply = await gateway.handle(call)
            assert isinstance(reply, Reply) and reply.finish is not None
            await reply.finish()
        await audit.flush()
    finally:
        await database.close()


def write_config(tmp_path: Path, *, tagger: bool, name: str = "bastion.yaml") -> Path:
    policy = tmp_path / "current.yaml"
    policy.write_text(CURRENT, encoding="utf-8")
    path = tmp_path / name
    text = CONFIG.format(policy=policy, tagger="true" if tagger else "false")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A store holding TRAFFIC, recorded by a fast-tier gateway (no names tagger)."""
    config = write_config(tmp_path, tagger=False)
    asyncio.run(_record(config, TRAFFIC, prefix="", class_set=True))
    return config


def candidate(tmp_path: Path, text: str) -> str:
    path = tmp_path / "candidate.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def replay(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["policy", "replay", *args, "--config", str(config)], env=env)


def replay_json(config: Path, *args: str) -> Any:
    result = replay(config, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_recorded_decisions_replay_unchanged(recorded: Path, tmp_path: Path) -> None:
    data = replay_json(recorded, candidate(tmp_path, CURRENT))
    assert (data["replayed"], data["unchanged"], data["changed"], data["incomplete"]) == (
        4,
        4,
        0,
        0,
    )


def test_a_stricter_candidate_lists_what_would_change(recorded: Path, tmp_path: Path) -> None:
    result = replay(recorded, candidate(tmp_path, STRICTER), "--since", "1h")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"^candidate company@v2\+[0-9a-f]{12} \(", out, re.MULTILINE)
    assert "calls: 4 replayed, 2 unchanged, 2 changed, 0 incomplete\n" in out
    assert "  helpdesk / support / secrets.block: 1 call (allow → block 1)\n" in out
    assert "  crm / sales / secrets.block: 1 call (allow → block 1)\n" in out
    assert "      e.g. req_0\n" in out and "      e.g. req_3\n" in out
    assert "replaying 4 calls" in result.stderr


def test_json_shape(recorded: Path, tmp_path: Path) -> None:
    data = replay_json(recorded, candidate(tmp_path, STRICTER))
    assert data["ok"] is True and data["candidate"].startswith("company@v2+")
    assert set(data["window"]) == {"since", "until"} and data["window"]["until"] is None
    assert data["transitions"] == {"allow → block": 2}
    assert data["skipped"] == {}
    assert sorted((g["app"], g["team"], g["rule"], g["calls"]) for g in data["changes"]) == [
        ("crm", "sales", "secrets.block", 1),
        ("helpdesk", "support", "secrets.block", 1),
    ]
    group = next(g for g in data["changes"] if g["app"] == "helpdesk")
    assert group == {
        "app": "helpdesk",
        "team": "support",
        "rule": "secrets.block",
        "calls": 1,
        "transitions": {"allow → block": 1},
        "examples": ["req_0"],
        "incomplete": 0,
        "missing_classes": [],
    }
    assert data["incomplete_groups"] == []


def test_classes_not_looked_for_then_make_the_replay_incomplete(
    recorded: Path, tmp_path: Path
) -> None:
    # The candidate blocks names; deployed with the names tagger on, it would see
    # names the recorded gateway (fast tier) never looked for.
    with_tagger = write_config(tmp_path, tagger=True, name="tagger.yaml")  # same store
    data = replay_json(with_tagger, candidate(tmp_path, NAMES))
    assert (data["replayed"], data["changed"], data["incomplete"]) == (4, 2, 4)
    gaps = {(g["app"], g["team"]): g for g in data["incomplete_groups"]}
    assert gaps["crm", "sales"]["missing_classes"] == {"pii.person": 2}
    assert gaps["crm", "sales"]["changed"] == 1
    assert all(g["missing_classes"] == ["pii.person"] for g in data["changes"])
    # With the same detectors as then, the candidate's names rule can never fire: complete.
    assert replay_json(recorded, candidate(tmp_path, NAMES))["incomplete"] == 0

    text = replay(with_tagger, candidate(tmp_path, NAMES)).stdout
    assert "calls: 4 replayed, 2 unchanged, 2 changed, 4 incomplete\n" in text
    assert "      incomplete: 1 (not looked for: pii.person)\n" in text
    assert "  crm / sales: 2 calls, 1 changed; not looked for: pii.person (2)\n" in text


def test_records_without_a_class_set_are_incomplete(recorded: Path, tmp_path: Path) -> None:
    asyncio.run(_record(recorded, TRAFFIC[:1], prefix="old", class_set=False))
    data = replay_json(recorded, candidate(tmp_path, STRICTER))
    assert (data["replayed"], data["changed"], data["incomplete"]) == (5, 3, 1)
    (gap,) = data["incomplete_groups"]
    assert (gap["unknown_class_set"], gap["examples"]) == (1, ["req_old0"])


def test_the_window_and_limit_select_the_calls(recorded: Path, tmp_path: Path) -> None:
    path = candidate(tmp_path, STRICTER)
    assert replay_json(recorded, path, "--until", "1h")["replayed"] == 0
    limited = replay_json(recorded, path, "--limit", "2")
    assert (limited["records"], limited["replayed"], limited["changed"]) == (2, 2, 1)
    empty = replay(recorded, path, "--since", "2000-01-01", "--until", "2000-01-02")
    assert empty.exit_code == 0, empty.output
    assert "no decided call in this window" in empty.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "is neither a duration back from now"),
        (("--since", "1h", "--until", "2h"), "is not after --since"),
        (("--limit", "0"), "--limit"),
    ],
)
def test_usage_errors(recorded: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = replay(recorded, candidate(tmp_path, STRICTER), *args)
    assert result.exit_code == 2
    assert message in result.output


def test_an_invalid_candidate_fails_with_its_line(recorded: Path, tmp_path: Path) -> None:
    result = replay(recorded, candidate(tmp_path, STRICTER.replace("secret.*", "secrte.*")))
    assert result.exit_code == 1
    assert "candidate.yaml:9: rules[1].match.classes: 'secrte.*' matches no data class" in (
        result.stderr
    )


@pytest.mark.parametrize(("role", "allowed"), [("auditor", True), ("app_owner", False)])
def test_reading_records_needs_a_reader_role(
    recorded: Path, tmp_path: Path, role: str, allowed: bool
) -> None:
    create = ["admin-token", "create", "--role", role, "--subject", "someone", "--json"]
    created = CliRunner().invoke(cli, [*create, "--config", str(recorded)])
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)["token"]
    result = replay(recorded, candidate(tmp_path, STRICTER), env={"BASTION_ADMIN_TOKEN": token})
    if allowed:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1
        assert "'someone' has the role 'app_owner' and may not read call records" in result.output


def explain_call(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["policy", "explain", *args, "--config", str(config)])


def test_explain_a_recorded_call_under_a_candidate(recorded: Path, tmp_path: Path) -> None:
    stricter = candidate(tmp_path, STRICTER)
    result = explain_call(recorded, stricter, "--call", "req_0", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["call"]["principal"]["app"] == "helpdesk"
    assert data["decision"]["action"] == "block"
    assert data["decision"]["rules"] == ["secrets.block"]
    assert "AKIA" not in result.stdout  # facts only: the record never held the text

    human = explain_call(recorded, stricter, "--call", "req_1")
    assert human.exit_code == 0, human.output
    assert "mail.redact" in human.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--call", "req_404"), "no recorded call 'req_404'"),
        (("--call", "req_0", "--principal", "app=x"), "--call takes the caller"),
        ((), "give either --request FILE or --call REQUEST_ID"),
    ],
)
def test_explain_call_errors(
    recorded: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = explain_call(recorded, candidate(tmp_path, CURRENT), *args)
    assert result.exit_code != 0 and message in result.output
