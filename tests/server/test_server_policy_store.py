"""A running gateway's policy comes from the store: seeded from ``policy.file``, swapped
on activation, kept when a stored version is invalid, refused (503) when none loads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from bastion.config import load_config
from bastion.errors import ServiceUnavailable
from bastion.server.proxy import ProxyApp
from bastion.server.runtime import Runtime
from bastion.storage import ActivationReason, Database, PolicyRepository

CONFIG = """\
storage: {url: "sqlite:///gateway.db", poll_interval_s: 0.1}
providers: {sim: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-x}}
models:
  gpt-4o-mini: {targets: [{provider: sim, model: gpt-4o-mini}]}
  internal-llm: {targets: [{provider: sim, model: llama}]}
"""
OPEN = "name: team\nversion: open\n"
STRICT = """\
name: team
version: strict
models: {internal-llm: {max_sensitivity: restricted}}
"""
REROUTE = """\
name: team
version: reroute
rules:
  - id: mail.internal
    match: {classes: [pii.email], endpoints: [chat.completions, responses]}
    action: reroute
    reroute: {to: internal-llm}
"""
# valid YAML and schema, but names a class this config's detectors do not produce
UNKNOWN_CLASS = """\
name: team
version: broken
rules:
  - id: customers.block
    match: {classes: [custom.customer_id]}
    action: block
"""


POLICY_FILE = "policy: {file: policy.yaml}\n"


def write_config(tmp_path: Path, policy: str | None) -> Path:
    extra = POLICY_FILE if policy is not None else ""
    if policy is not None:
        (tmp_path / "policy.yaml").write_text(policy, encoding="utf-8")
    path = tmp_path / "bastion.yaml"
    path.write_text(CONFIG + extra, encoding="utf-8")
    return path


async def store(tmp_path: Path) -> tuple[Database, PolicyRepository]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'gateway.db'}")
    await database.migrate()
    return database, PolicyRepository(database)


async def upload_active(repo: PolicyRepository, text: str, source: str = "edited.yaml") -> None:
    label = text.split("\n")[1].removeprefix("version: ")
    await repo.upload_and_activate(text, name="team", label=label, source=source, by="sec")


@asynccontextmanager
async def started(tmp_path: Path, *, watch: bool = False) -> AsyncIterator[Runtime]:
    """A runtime on ``tmp_path``'s config, started (no server sockets) and closed."""
    path = tmp_path / "bastion.yaml"
    runtime = Runtime(load_config(path), config_path=path, watch=watch)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


def version(runtime: Runtime) -> str | None:
    return runtime.gateway.parts.decider.version


def loads(runtime: Runtime, result: str) -> float:
    value = runtime.gateway.parts.metrics.registry.get_sample_value(
        "bastion_policy_loads_total", {"result": result}
    )
    return value or 0.0


async def readyz(runtime: Runtime) -> int:
    transport = httpx.ASGITransport(app=ProxyApp(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return (await client.get("/readyz")).status_code


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for ``condition`` (a background task changes it), failing after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_the_file_seeds_an_empty_store(tmp_path: Path) -> None:
    write_config(tmp_path, OPEN)
    async with started(tmp_path) as runtime:
        assert version(runtime) is not None and version(runtime).startswith("team@open+")
        assert loads(runtime, "ok") == 1
        assert await readyz(runtime) == 200
    database, repo = await store(tmp_path)
    active = await repo.active()
    assert active is not None
    assert (active.reason, active.activated_by) == (ActivationReason.SEED, "bastion-serve")
    await database.close()


async def test_the_store_wins_over_a_differing_file_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(tmp_path, OPEN)
    database, repo = await store(tmp_path)
    await upload_active(repo, STRICT)
    await database.close()
    with caplog.at_level(logging.WARNING):
        async with started(tmp_path) as runtime:
            assert version(runtime).startswith("team@strict+")
    warning = next(r.getMessage() for r in caplog.records if "wins" in r.getMessage())
    assert "team@open+" in warning and "team@strict+" in warning


async def test_no_policy_configured_or_active_allows_as_asked(tmp_path: Path) -> None:
    write_config(tmp_path, None)
    async with started(tmp_path) as runtime:
        assert version(runtime) is None and runtime.policy.loaded
        assert await readyz(runtime) == 200


async def test_an_activation_is_picked_up_and_an_invalid_one_rejected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(tmp_path, OPEN)
    database, repo = await store(tmp_path)
    async with started(tmp_path) as runtime:
        await upload_active(repo, STRICT)
        await until(lambda: (version(runtime) or "").startswith("team@strict+"))
        assert not runtime.gateway.parts.decider.approves("gpt-4o-mini")
        assert loads(runtime, "ok") == 2

        with caplog.at_level(logging.ERROR):
            await upload_active(repo, UNKNOWN_CLASS)
            await until(lambda: loads(runtime, "rejected") == 1)
        assert version(runtime).startswith("team@strict+")  # the old policy stays
        error = next(r.getMessage() for r in caplog.records if "rejected" in r.getMessage())
        assert "team@broken+" in error and "edited.yaml:5:" in error
        assert "custom.customer_id" in error and "stays in force" in error
        assert await readyz(runtime) == 200
    await database.close()


async def test_readyz_503_and_calls_refused_when_the_active_policy_cannot_load(
    tmp_path: Path,
) -> None:
    write_config(tmp_path, OPEN)
    database, repo = await store(tmp_path)
    await upload_active(repo, UNKNOWN_CLASS)
    async with started(tmp_path) as runtime:
        assert not runtime.policy.loaded
        assert loads(runtime, "rejected") == 1
        assert await readyz(runtime) == 503
        with pytest.raises(ServiceUnavailable) as refused:  # /v1/models, and every call
            runtime.gateway.parts.decider.approves("gpt-4o-mini")
        assert refused.value.code == "guardrail_unavailable"
        # an admin activates a valid version: the gateway recovers without a restart
        await upload_active(repo, STRICT)
        await until(lambda: runtime.policy.loaded)
        assert version(runtime).startswith("team@strict+")
        assert await readyz(runtime) == 200
    await database.close()


async def test_an_invalid_file_with_an_empty_store_refuses_calls(tmp_path: Path) -> None:
    write_config(tmp_path, UNKNOWN_CLASS)
    async with started(tmp_path) as runtime:
        assert await readyz(runtime) == 503
    database, repo = await store(tmp_path)
    assert await repo.active() is None  # nothing invalid was seeded
    await database.close()


async def test_a_config_reload_recompiles_the_active_policy(tmp_path: Path) -> None:
    config = write_config(tmp_path, REROUTE)
    internal = "  internal-llm: {targets: [{provider: sim, model: llama}]}\n"
    async with started(tmp_path) as runtime:
        before = version(runtime)
        assert before is not None and before.startswith("team@reroute+")
        config.write_text(config.read_text().replace(internal, ""))  # the reroute target
        assert await runtime.reload() is False
        assert "internal-llm" in runtime.config.models  # the running config stays
        assert (version(runtime), loads(runtime, "rejected")) == (before, 1)

        extra = "  gpt-4o: {targets: [{provider: sim, model: gpt-4o}]}\n"
        config.write_text(CONFIG.replace(internal, internal + extra) + POLICY_FILE)
        assert await runtime.reload() is True
        assert "gpt-4o" in runtime.config.models and version(runtime) == before


async def test_serve_watch_activates_edits_and_keeps_the_old_policy_on_a_bad_one(
    tmp_path: Path,
) -> None:
    write_config(tmp_path, OPEN)
    database, repo = await store(tmp_path)
    await upload_active(repo, STRICT)  # with --watch the file wins at start
    async with started(tmp_path, watch=True) as runtime:
        assert version(runtime).startswith("team@open+")
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text(OPEN.replace("open", "edited"), encoding="utf-8")
        await until(lambda: (version(runtime) or "").startswith("team@edited+"))
        active = await repo.active()
        assert active is not None and active.activated_by == "bastion-serve --watch"

        policy_file.write_text(UNKNOWN_CLASS, encoding="utf-8")
        await until(lambda: loads(runtime, "rejected") == 1)
        assert version(runtime).startswith("team@edited+")
        active = await repo.active()
        assert active is not None and active.version.label == "edited"
    await database.close()
