"""Schemathesis against the published OpenAPI documents of the proxy and the admin API.

A real gateway (the quickstart's enterprise policy, so detection and policy run on every
generated body) answers generated requests, mostly malformed, some valid. Every answer
must be as documented: no 5xx, a documented status, content type, headers and body
schema. The stack's teardown also fails the test if the gateway logged a traceback.
The proxy's document is looser than its parser (it does not list every field the parser
refuses), so generated "valid" bodies may be refused with a 400; the checks below are
the ones that hold for any body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.schemas import APIOperation

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.processes import cli_json

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
PROXY = schemathesis.openapi.from_path(DOCS / "proxy.json")
ADMIN = schemathesis.openapi.from_path(DOCS / "admin.json")
EXAMPLES = {"proxy": 150, "admin": 60}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
MODELS = st.sampled_from([None, "gpt-4o-mini", "gpt-4o", "text-embedding-3-small"])
"""A generated model name almost never exists: often swap in a configured one so the
body gets past the model check into detection, policy and the upstream."""

GOVERNED = """\
detectors:
  custom:
    customer_id: {regex: "CUST-[0-9]{6}", sensitivity: confidential}
policy: {file: %s}
"""
POLICY = Path(__file__).resolve().parents[2] / "examples" / "policies" / "enterprise.yaml"


def _operations(schema: schemathesis.BaseSchema) -> list[APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    """The gateway with the enterprise policy, and an ``admin`` token for the admin API."""
    with running_stack(tmp_path_factory.mktemp("fuzz"), GOVERNED % POLICY) as running:
        created = cli_json(
            "admin-token", "create", "--config", str(running.config),
            "--role", "admin", "--subject", "fuzzer",
        )  # fmt: skip
        yield running, str(created["token"])


def _fuzz(operation: APIOperation, base_url: str, token: str, examples: int) -> None:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), model=MODELS)
    def answers_as_documented(case: schemathesis.Case, model: str | None) -> None:
        if model is not None and isinstance(case.body, dict) and "model" in case.body:
            case.body["model"] = model
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

    try:
        answers_as_documented()
    finally:
        session.close()


@pytest.mark.parametrize("operation", _operations(PROXY), ids=lambda op: op.label)
def test_proxy_answers_generated_requests_as_documented(
    operation: APIOperation, governed: tuple[Stack, str]
) -> None:
    stack, _ = governed
    _fuzz(operation, stack.base_url.removesuffix("/v1"), stack.key, EXAMPLES["proxy"])


@pytest.mark.parametrize("operation", _operations(ADMIN), ids=lambda op: op.label)
def test_admin_api_answers_generated_requests_as_documented(
    operation: APIOperation, governed: tuple[Stack, str]
) -> None:
    stack, token = governed
    _fuzz(operation, stack.admin_url, token, EXAMPLES["admin"])
