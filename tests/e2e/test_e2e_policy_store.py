"""The policy store end to end: a running gateway picks up `bastion policy activate`
within seconds (the next SDK call is decided by the new version), keeps its policy when
the stored version is invalid, and refuses calls (503) while no valid policy loads."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from bastion.storage import Database, PolicyRepository
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.processes import BASTION, cli_json

EMAIL = "dana.whitfield@northwind-example.com"
OPEN = "name: team\nversion: open\n"
STRICT = """\
name: team
version: strict
rules:
  - id: mail.block
    match: {classes: [pii.email]}
    action: block
"""
# valid YAML and schema, but names a class this config's detectors do not produce
INVALID = """\
name: team
version: broken
rules:
  - id: customers.block
    match: {classes: [custom.customer_id]}
    action: block
"""
EXTRA = "policy: {file: policy.yaml}\n"


def store_invalid_version(work: Path) -> None:
    """Activate INVALID behind the CLI's back (the CLI refuses it), as a replica with
    another config, or a hand-edited row, could."""

    async def write() -> None:
        database = Database.from_url(f"sqlite:///{work / 'gateway.db'}")
        await database.migrate()
        await PolicyRepository(database).upload_and_activate(
            INVALID, name="team", label="broken", source="broken.yaml", by="someone"
        )
        await database.close()

    asyncio.run(write())


def ask(stack: Stack, text: str) -> Any:
    return stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )


def refusal(stack: Stack, text: str) -> openai.APIStatusError | None:
    """The error a call gets, or None when it was answered."""
    try:
        ask(stack, text)
    except openai.APIStatusError as exc:
        return exc
    return None


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition``: replicas pick up changes through the feed within seconds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the gateway did not pick up the change"
        time.sleep(0.1)


def loads(stack: Stack, result: str) -> float:
    text = httpx.get(
        f"{stack.admin_url}/metrics", headers={"authorization": f"Bearer {stack.admin_token}"}
    ).text
    match = re.search(rf'^bastion_policy_loads_total\{{result="{result}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def policy_cli(stack: Stack, *args: str) -> dict[str, Any]:
    return cli_json("policy", *args, "--config", str(stack.config))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-policy-store")
    (work / "policy.yaml").write_text(OPEN)
    (work / "strict.yaml").write_text(STRICT)
    with running_stack(work, EXTRA) as running:
        yield running


def test_an_activated_policy_decides_the_next_calls(stack: Stack) -> None:
    seeded = ask(stack, f"Write to {EMAIL}")
    assert seeded.headers["x-bastion-policy"].startswith("team@open+")
    assert loads(stack, "ok") == 1
    seed = policy_cli(stack, "show")
    assert seed["content"] == OPEN and seed["active"] is True

    activated = policy_cli(stack, "activate", str(stack.config.parent / "strict.yaml"))
    assert activated["changed"] is True

    eventually(lambda: refusal(stack, f"Write to {EMAIL}") is not None)
    refused = refusal(stack, f"Write to {EMAIL}")
    assert isinstance(refused, openai.PermissionDeniedError)
    assert refused.response.headers["x-bastion-policy"] == activated["version"]
    assert refused.response.headers["x-bastion-rules"] == "mail.block"
    assert loads(stack, "ok") == 2

    # an invalid stored version is rejected: the strict policy keeps deciding
    store_invalid_version(stack.config.parent)
    eventually(lambda: loads(stack, "rejected") == 1)
    still = refusal(stack, f"Write to {EMAIL}")
    assert isinstance(still, openai.PermissionDeniedError)
    assert still.response.headers["x-bastion-policy"] == activated["version"]
    assert httpx.get(stack.base_url.replace("/v1", "/readyz")).status_code == 200

    # rolling back from the broken version brings the store in line with the gateway
    rolled = subprocess.run(
        [BASTION, "policy", "rollback", "--config", str(stack.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"Rolled back to {activated['version']}" in rolled.stdout
    assert "it was team@broken+" in rolled.stdout


def test_readyz_and_calls_refuse_while_no_valid_policy_loads(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    work = tmp_path_factory.mktemp("e2e-policy-invalid")
    (work / "policy.yaml").write_text(OPEN)
    store_invalid_version(work)  # active before the gateway starts: the store wins
    with running_stack(work, EXTRA) as stack:
        readyz = stack.base_url.replace("/v1", "/readyz")
        assert httpx.get(readyz).status_code == 503
        refused = refusal(stack, "hello")
        assert isinstance(refused, openai.InternalServerError)
        assert refused.status_code == 503
        assert refused.code == "guardrail_unavailable"
        assert loads(stack, "rejected") == 1

        policy_cli(stack, "activate", str(work / "policy.yaml"))
        eventually(lambda: httpx.get(readyz).status_code == 200)
        answered = ask(stack, "hello")
        assert answered.headers["x-bastion-policy"].startswith("team@open+")
