"""The enterprise example policy end to end, each action checked against what the upstream
saw: allow, redact, block, reroute, require_exception (with a static exception) and shadow."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.processes import cli_json

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "dana.whitfield@northwind-example.com"
CARD = "4539 1488 0343 6467"
CUSTOMER = "CUST-123456"
SECRET = "AKIA" + "Q3EGRTZ5LXKW7NUC"
CODE = (
    "Refactor this:\n\nimport os\n\ndef load(path):\n    with open(path) as handle:\n"
    "        return [line.strip() for line in handle if line]\n\nprint(load(os.environ['F']))\n"
)
EXTRA = """\
policy: {file: policy.yaml}
detectors: {custom: {customer_id: {regex: "CUST-[0-9]{6}", sensitivity: confidential}}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-enterprise")
    shutil.copy(ROOT / "examples" / "policies" / "enterprise.yaml", work / "policy.yaml")
    with running_stack(work, EXTRA) as running:
        yield running


def ask(stack: Stack, text: str, key: str | None = None, model: str = "gpt-4o-mini") -> Any:
    """The raw SDK response to one user message (headers and parsed body)."""
    stack.clear_captures()
    return stack.client(key).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}]
    )


def refused(stack: Stack, text: str, key: str | None = None, **extra: object) -> dict[str, object]:
    stack.clear_captures()
    with pytest.raises(openai.PermissionDeniedError) as raised:
        stack.client(key).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **extra
        )
    assert stack.captures() == []  # the upstream saw nothing
    response = raised.value.response
    body: dict[str, object] = response.json()
    body["headers"] = dict(response.headers)
    return body


def prod_key(stack: Stack, app: str) -> str:
    return str(stack.create_key("--name", f"prod-{app}", "--env", "prod", "--app", app)["key"])


def test_allow(stack: Stack) -> None:
    raw = ask(stack, "What is the capital of France?")
    assert raw.headers["x-bastion-decision"] == "allow"
    assert raw.headers["x-bastion-policy"].startswith("enterprise@2026-12-02+")
    (capture,) = stack.captures()
    assert "capital of France" in json.dumps(capture["body"])


def test_redact_pseudonymises_for_external_models(stack: Stack) -> None:
    raw = ask(stack, f"Write to {EMAIL} today.")
    assert raw.parse().choices[0].message.content == f"Write to {EMAIL} today."
    (capture,) = stack.captures()
    upstream = json.dumps(capture["body"])
    assert EMAIL not in upstream and re.search(r"<EMAIL_[0-9a-f]{8,}>", upstream)
    assert raw.headers["x-bastion-decision"] == "redact"
    assert raw.headers["x-bastion-rules"] == "pii.external"


def test_block_names_rule_and_classes_never_values(stack: Stack) -> None:
    body = refused(stack, f"Deploy with {SECRET} please")
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "policy_violation"
    assert SECRET not in json.dumps(body)
    details = body["bastion"]
    assert isinstance(details, dict)
    assert details["rules"] == ["secrets.block"]
    assert details["classes"] == {"secret.aws_access_key": 1}
    assert "bastion exceptions request --rule secrets.block" in str(details["exception_hint"])
    headers = body["headers"]
    assert isinstance(headers, dict)
    assert headers["x-bastion-decision"] == "block"
    assert headers["x-bastion-rules"] == "secrets.block"


def test_placeholder_and_documented_example_keys_are_no_credentials(stack: Stack) -> None:
    question = (
        "I set OPENAI_API_KEY=sk-proj-" + "x" * 48 + " and aws_access_key_id ="
        " AKIAIOSFODNN7EXAMPLE as the docs say; why do I get 401?"
    )
    raw = ask(stack, question)
    assert raw.headers["x-bastion-decision"] == "allow"
    (capture,) = stack.captures()
    assert "AKIAIOSFODNN7EXAMPLE" in json.dumps(capture["body"])
    answer = raw.parse().choices[0].message.content  # the simulator echoes the question:
    assert answer is not None and "sk-proj-xxxx" in answer  # answers.secrets let it be
    assert refused(stack, f"{question} My real one is {SECRET}.")["error"]["code"] == (
        "policy_violation"
    )


def test_unapproved_model_is_refused_and_not_listed(stack: Stack) -> None:
    with pytest.raises(openai.PermissionDeniedError) as raised:
        stack.client().chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.code == "policy_violation"
    assert raised.value.response.headers["x-bastion-rules"] == "model.unapproved"
    listed = {model.id for model in stack.client().models.list()}
    assert "gpt-4.1" not in listed and {"gpt-4o-mini", "internal-llm"} <= listed


def test_reroute_sends_customer_records_to_the_internal_model(stack: Stack) -> None:
    raw = ask(stack, f"Summarise the account of {CUSTOMER}, contact {EMAIL}.")
    (capture,) = stack.captures()
    body = capture["body"]
    assert isinstance(body, dict) and body["model"] == "llama-3.1-70b-instruct"
    assert EMAIL in json.dumps(body)  # the internal model may read personal data
    assert raw.headers["x-bastion-decision"] == "reroute"
    assert raw.headers["x-bastion-model"] == "internal-llm"
    assert raw.parse().model == "internal-llm"


def test_require_exception_and_a_static_exception(stack: Stack) -> None:
    text = f"Customer disputes the charge on card {CARD}."
    body = refused(stack, text, key=prod_key(stack, "checkout"))
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == "exception_required"
    assert error["type"] == "permission_error"
    details = body["bastion"]
    assert isinstance(details, dict) and details["rules"] == ["pii.restricted.prod"]

    billing = ask(stack, text, key=prod_key(stack, "billing"))
    assert billing.headers["x-bastion-exception"] == "exc-billing-disputes"
    assert billing.headers["x-bastion-decision"] == "redact"
    (capture,) = stack.captures()
    assert "4539" not in json.dumps(capture["body"])  # masked on the way out


def test_named_unknown_exception_is_invalid(stack: Stack) -> None:
    body = refused(stack, "hello", extra_body={"bastion": {"exception": "exc_missing"}})
    error = body["error"]
    assert isinstance(error, dict)
    assert (error["code"], error["param"]) == ("exception_invalid", "bastion.exception")


def test_shadow_rule_forwards_and_records_what_it_would_do(stack: Stack) -> None:
    raw = ask(stack, CODE)
    assert len(stack.captures()) == 1
    assert raw.headers["x-bastion-decision"] == "allow"
    assert raw.headers["x-bastion-shadow-decision"] == "block"
    record = _record(stack, raw.headers["x-bastion-request-id"])
    facts = record["request_facts"]
    assert isinstance(facts, dict)
    assert facts["shadow"] == {"decision": "block", "rules": ["code.external"]}


def exceptions_cli(stack: Stack, *args: str, token: str | None = None) -> dict[str, object]:
    env = {**os.environ, "BASTION_ADMIN_TOKEN": token} if token else None
    return cli_json("exceptions", *args, "--config", str(stack.config), env=env)


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_dynamic_exception_valid_then_revoked_then_expired(stack: Stack) -> None:
    key = prod_key(stack, "claims")
    approver = str(
        cli_json(
            "admin-token",
            "create",
            "--config",
            str(stack.config),
            "--role",
            "security",
            "--subject",
            "sec-lead",
        )["token"]
    )
    text = f"The claim quotes card {CARD}."
    scope = ("--rule", "pii.restricted.prod", "--app", "claims")
    requested = exceptions_cli(
        stack, "request", *scope, "--justification", "Claims quote cards.", "--expires", "7d"
    )
    exc_id = str(requested["id"])
    assert refused(stack, text, key=key)["error"]["code"] == "exception_required"  # type: ignore[index]
    exceptions_cli(stack, "approve", exc_id, token=approver)

    def applies(exception_id: str) -> bool:
        try:
            return ask(stack, text, key=key).headers["x-bastion-exception"] == exception_id
        except openai.PermissionDeniedError:
            return False

    eventually(lambda: applies(exc_id), "an approved exception reaches the gateway in seconds")
    (capture,) = stack.captures()
    assert "4539" not in json.dumps(capture["body"])  # the exception waives one rule only

    exceptions_cli(stack, "revoke", exc_id, token=approver)
    eventually(lambda: not applies(exc_id), "a revoked exception stops applying in seconds")
    body = refused(stack, text, key=key, extra_body={"bastion": {"exception": exc_id}})
    details = body["bastion"]
    assert isinstance(details, dict) and details["exception_state"] == "revoked"
    assert body["error"]["code"] == "exception_required"  # type: ignore[index]

    # the approver shortens it: the window starts at the approval, not at the request,
    # so CLI start-up on a busy machine cannot use it up
    short = exceptions_cli(
        stack, "request", *scope, "--justification", "One more claim.", "--expires", "1h"
    )
    short_id = str(short["id"])
    approved = exceptions_cli(stack, "approve", short_id, "--expires", "30s", token=approver)
    ends = datetime.fromisoformat(str(approved["expires_at"]).replace("Z", "+00:00"))
    assert ends - datetime.now(UTC) <= timedelta(seconds=30)
    eventually(lambda: applies(short_id), "the short exception applies")
    eventually(lambda: not applies(short_id), "an exception stops applying when it expires", 45)
    body = refused(stack, text, key=key, extra_body={"bastion": {"exception": short_id}})
    details = body["bastion"]
    assert isinstance(details, dict) and details["exception_state"] == "expired"


def test_a_slowly_streamed_answer_reaches_the_client_as_it_is_generated(stack: Stack) -> None:
    """The policy scans answers (answers.secrets): text is held until scanned, but a model
    streaming 50 events a second must not be held a whole window (~350 characters)."""
    words = " ".join(f"word{n}" for n in range(150))
    stream = stack.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"{words} [[sim:fault=pace,per_s=50]]"}],
        stream=True,
    )
    started, first, parts = time.monotonic(), None, []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first if first is not None else time.monotonic() - started
            parts.append(chunk.choices[0].delta.content)
    total = time.monotonic() - started
    assert "".join(parts).startswith(words)
    assert first is not None and total > 1.0  # ~70 events at 50 a second
    # Held a whole window, the text (shorter than one) would all come at the end: first
    # close to total. Released as it is scanned, most of the stream's time follows the
    # first words (about 0.15 s on an idle machine; the bound leaves room for a busy one).
    assert first < 0.5 * total, f"first text after {first:.2f} s of a {total:.2f} s stream"
    assert len(parts) > 5, "the answer came in one piece"


def _record(stack: Stack, request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        calls = httpx.get(
            f"{stack.admin_url}/admin/api/calls?limit=1000",
            headers={"authorization": f"Bearer {stack.admin_token}"},
        ).json()["data"]
        for call in calls:
            if call["request_id"] == request_id:
                return dict(call)
        assert time.monotonic() < deadline, "the call was never recorded"
        time.sleep(0.05)
