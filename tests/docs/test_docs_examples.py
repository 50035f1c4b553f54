"""Code in the docs is executed (STYLE.md 18): configs load, Python examples run.

A fenced block is tested when an HTML comment right before it says how:

* ``<!-- test: config -->`` before a ```` ```yaml ```` block: a complete config file that
  ``load_config`` accepts. ``${VAR}`` references without a default get a placeholder
  value, and every ``api_key_file`` it names is created beside it.
* ``<!-- test: config-error -->`` before a ```` ```yaml ```` block followed by a
  ```` ```text ```` block: loading fails with exactly the lines of the text block (the
  file is written as ``bastion.yaml`` in the current directory).
* ``<!-- test: policy -->`` before a ```` ```yaml ```` block: a policy file that loads,
  whose rules name only existing data classes.
* ``<!-- test: python -->`` before a ```` ```python ```` block: runs on its own, from
  the repository root.
* ``<!-- test: run -->`` before a ```` ```python ```` block: runs against a real
  gateway serving ``examples/quickstart.yaml`` in front of a real simulator. The
  snippet reads ``BASTION_URL``, ``BASTION_KEY``, ``BASTION_ADMIN_URL``,
  ``BASTION_ADMIN_TOKEN`` and ``SIM_URL`` from the environment (defaulting to the
  documented ports), which point it at that pair.

Extra ``NAME=value`` words in the comment are environment variables for the block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from tests.e2e.processes import cli_json, free_port, start, stop, wait_http

from bastion.config import BastionConfig, load_config
from bastion.errors import ConfigError
from bastion.pipeline.guardrails import load_configured_policy

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
_MARKED = re.compile(
    r"<!-- test: (?P<kind>[a-z-]+)(?P<attrs>[^>]*?)\s*-->\s*\n"
    r"```(?P<lang>\w+)\n(?P<code>.*?)^```\s*$"
    r"(?:\s*\n```text\n(?P<text>.*?)^```)?",
    re.DOTALL | re.MULTILINE,
)
_REQUIRED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LANG = {
    "config": "yaml",
    "config-error": "yaml",
    "policy": "yaml",
    "python": "python",
    "run": "python",
}


@dataclass(frozen=True)
class DocBlock:
    """One marked code block of a document."""

    kind: str
    lang: str
    code: str
    env: dict[str, str]
    expected_text: str | None
    where: str

    def __str__(self) -> str:
        return self.where


def _blocks() -> list[DocBlock]:
    found: list[DocBlock] = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for match in _MARKED.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            env = dict(word.split("=", 1) for word in match["attrs"].split() if "=" in word)
            found.append(
                DocBlock(
                    kind=match["kind"],
                    lang=match["lang"],
                    code=match["code"],
                    env=env,
                    expected_text=match["text"],
                    where=f"{path.relative_to(ROOT)}:{line}",
                )
            )
    return found


BLOCKS = _blocks()


def _of_kind(kind: str) -> list[DocBlock]:
    return [block for block in BLOCKS if block.kind == kind]


def test_docs_have_tested_examples_of_every_kind() -> None:
    kinds = {block.kind for block in BLOCKS}
    assert kinds == set(_LANG), f"marked kinds {sorted(kinds)}"
    for block in BLOCKS:
        assert block.lang == _LANG[block.kind], (
            f"{block}: a {block.kind} block must be {block.lang}"
        )
    for block in _of_kind("config-error"):
        assert block.expected_text, f"{block}: needs a ```text block with the expected error"


def test_every_doc_links_resolve() -> None:
    for path in DOC_FILES:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", path.read_text()):
            if "://" in target:
                continue
            assert (path.parent / target).is_file(), f"{path.name} links to missing {target}"


def _config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Dotted config keys; ``providers.<name>`` and ``models.<name>`` sections drop the name."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
            child_prefix = ""  # documented per entry: `timeouts.connect_s`, `targets`
        else:
            child_prefix = f"{prefix}{name}."
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if is_section and annotation.model_fields:  # type: ignore[union-attr]
            yield from _config_keys(annotation, child_prefix)  # type: ignore[arg-type]
            continue
        yield f"{prefix}{name}"


def test_every_config_key_is_documented() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in _config_keys(BastionConfig) if f"`{key}`" not in reference]
    assert not missing, f"docs/configuration.md does not describe {missing}"


@pytest.mark.parametrize("block", _of_kind("config"), ids=str)
def test_config_example_loads(
    block: DocBlock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {name: f"placeholder-{name.lower()}" for name in _REQUIRED_VAR.findall(block.code)}
    environ.update(block.env)
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(block.code, encoding="utf-8")
    for provider in (yaml.safe_load(block.code) or {}).get("providers", {}).values():
        key_file = provider.get("api_key_file")
        if key_file:
            target = tmp_path / key_file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("sk-from-a-file\n")
    config = load_config(config_file, environ=environ)
    for name, model in config.models.items():
        assert model.targets, name


@pytest.mark.parametrize("block", _of_kind("config-error"), ids=str)
def test_config_error_example_is_the_real_message(
    block: DocBlock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bastion.yaml").write_text(block.code, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config("bastion.yaml", environ=block.env)
    assert str(raised.value).strip() == (block.expected_text or "").strip()


@pytest.mark.parametrize("block", _of_kind("policy"), ids=str)
def test_policy_example_loads(block: DocBlock, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(block.code, encoding="utf-8")
    # checked as the quickstart gateway would load it: its classes and models
    load_configured_policy(load_config(ROOT / "examples" / "quickstart.yaml", environ={}), path)


def _run_python(block: DocBlock, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", block.code],
        env={**env, **block.env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{block} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("block", _of_kind("python"), ids=str)
def test_python_example_runs(block: DocBlock) -> None:
    _run_python(block, _clean_environment(), ROOT)


def _clean_environment() -> dict[str, str]:
    """The process environment without Bastion or OpenAI settings of the host."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BASTION_", "OPENAI_"))
    }


@pytest.fixture(scope="module")
def quickstart_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """examples/quickstart.yaml served in front of a simulator; the env snippets read."""
    work = tmp_path_factory.mktemp("docs")
    sim_port, port, admin_port = free_port(), free_port(), free_port()
    env = {
        **_clean_environment(),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "INTERNAL_LLM_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "BASTION_SERVER__PORT": str(port),
        "BASTION_SERVER__ADMIN__PORT": str(admin_port),
        "BASTION_STORAGE__URL": f"sqlite:///{work / 'bastion.db'}",
    }
    config = str(ROOT / "examples" / "quickstart.yaml")
    sim = start(["simulate", "--port", str(sim_port)], work / "sim.log", env=env)
    gateway = None
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/_sim/health", sim)
        key = cli_json("keys", "create", "--config", config, "--name", "docs", env=env)["key"]
        token = cli_json("admin-token", "create", "--config", config, "--role", "auditor", env=env)[
            "token"
        ]
        gateway = start(["serve", "--config", config], work / "gateway.log", env=env, cwd=work)
        wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
        yield {
            **env,
            "BASTION_URL": f"http://127.0.0.1:{port}/v1",
            "BASTION_KEY": str(key),
            "BASTION_ADMIN_URL": f"http://127.0.0.1:{admin_port}",
            "BASTION_ADMIN_TOKEN": str(token),
            "SIM_URL": f"http://127.0.0.1:{sim_port}",
        }
    finally:
        stop(sim)
        log = stop(gateway) if gateway is not None else ""
    assert "Traceback" not in log, log[-4000:]


@pytest.mark.e2e
@pytest.mark.parametrize("block", _of_kind("run"), ids=str)
def test_gateway_example_runs(block: DocBlock, quickstart_env: dict[str, str]) -> None:
    _run_python(block, quickstart_env, ROOT)
