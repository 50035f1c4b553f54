"""Change push between replicas (issue 9): two gateways share one PostgreSQL database and
one Redis namespace and poll the change feed only every 30 s, so a change that reaches
the other gateway within 2 s was pushed over Redis, not polled.

Shown: a key revoked through gateway A's admin API is refused by gateway B, and a policy
version activated from the CLI decides B's calls, each within 2 s. Needs PostgreSQL
(127.0.0.1:5432) and Redis (127.0.0.1:6379); either missing skips the module, except
with ``CI=true``, where it fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.processes import cli_json, free_port
from tests.e2e.stacks import (
    Gateway,
    gateway_config,
    postgres_database,
    redis_namespace,
    simulator,
    start_gateways,
)
from tests.e2e.test_e2e_limits import SIM_KEY
from tests.limits.redis_servers import REDIS_URL

POLL_INTERVAL_S = 30.0  # nothing arrives by polling during a test
PUSH_S = 2.0
EMAIL = "dana.whitfield@northwind-example.com"
OPEN = "name: shared\nversion: open\n"
STRICT = """\
name: shared
version: strict
rules:
  - id: mail.block
    match: {classes: [pii.email]}
    action: block
"""

SECTIONS = """redis: {{url: "{redis_url}", key_prefix: "{prefix}"}}
crypto: {{keyring_file: keyring.json}}
audit: {{wal_dir: wal/{name}, checkpoint_file: checkpoints/{name}.jsonl}}
policy: {{file: policy.yaml}}
"""


@dataclass
class Pair:
    work: Path
    a: Gateway
    b: Gateway
    token: str

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to gateway A's admin API."""
        headers = {"authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.a.admin_url}/admin/api{path}", headers=headers, **kwargs
        )

    def sdk(self, gateway: Gateway, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    work = tmp_path_factory.mktemp("change-push")
    (work / "policy.yaml").write_text(OPEN)
    (work / "strict.yaml").write_text(STRICT)
    sim_port = free_port()
    with (
        redis_namespace("bastion-e2e-push") as prefix,
        postgres_database("bastion_push") as database_url,
        simulator(work, sim_port, SIM_KEY),
    ):

        def config(name: str) -> Callable[[int, int], str]:
            return lambda port, admin_port: gateway_config(
                port=port,
                admin_port=admin_port,
                storage_url=database_url,
                sim_port=sim_port,
                sim_key=SIM_KEY,
                poll_interval_s=POLL_INTERVAL_S,
                sections=SECTIONS.format(redis_url=REDIS_URL, prefix=prefix, name=name),
            )

        a, b = (Gateway.write(work, name, config(name)) for name in ("a", "b"))
        a.cli("crypto", "init")
        token = cli_json(
            "admin-token",
            "create",
            "--config",
            str(a.config),
            "--role",
            "admin",
            "--subject",
            "ops",
        )
        with start_gateways([a, b]):  # A first: it migrates the database and seeds the policy
            yield Pair(work, a, b, str(token["token"]))


def within(seconds: float, condition: Callable[[], bool]) -> float:
    """Seconds until ``condition`` held; fails past ``seconds``."""
    began = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - began
        assert elapsed < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - began


def refused_with(client: openai.OpenAI, text: str = "Say hello.") -> openai.APIStatusError | None:
    try:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )
    except openai.APIStatusError as exc:
        return exc
    return None


def test_a_key_revoked_on_one_gateway_is_refused_by_the_other_within_2_s(pair: Pair) -> None:
    created = pair.admin("POST", "/keys", json={"name": "push", "team": "push"})
    assert created.status_code == 201, created.text
    key = created.json()
    with pair.sdk(pair.b, key["key"]) as client:
        assert refused_with(client) is None  # B knows the key, and caches it as valid
        revoked = pair.admin("POST", f"/keys/{key['id']}/revoke")
        assert revoked.status_code == 200, revoked.text
        took = within(PUSH_S, lambda: isinstance(refused_with(client), openai.AuthenticationError))
    print(f"revocation reached the other gateway in {took:.3f} s")


def test_a_policy_activated_from_the_cli_decides_the_other_gateway_within_2_s(
    pair: Pair,
) -> None:
    created = pair.admin("POST", "/keys", json={"name": "policy", "team": "push"})
    assert created.status_code == 201, created.text
    with pair.sdk(pair.b, created.json()["key"]) as client:
        assert refused_with(client, f"Write to {EMAIL}") is None
        activated = cli_json(
            "policy",
            "activate",
            str(pair.work / "strict.yaml"),
            "--config",
            str(pair.a.config),
            "--admin-token-file",
            str(_token_file(pair)),
        )

        def decides() -> bool:
            refused = refused_with(client, f"Write to {EMAIL}")
            return (
                isinstance(refused, openai.PermissionDeniedError)
                and refused.response.headers["x-bastion-policy"] == activated["version"]
            )

        took = within(PUSH_S, decides)
    print(f"policy activation reached the other gateway in {took:.3f} s")


def _token_file(pair: Pair) -> Path:
    path = pair.work / "admin-token"
    path.write_text(pair.token)
    return path
