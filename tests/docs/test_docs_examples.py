"""Code in the docs is executed (STYLE.md 18): configs load, Python examples run.

A fenced block is tested when an HTML comment right before it says how:

* ``<!-- test: config -->`` before a ```` ```yaml ```` block: a complete config file that
  ``load_config`` accepts. ``${VAR}`` references without a default get a placeholder
  value, and every ``api_key_file`` it names is created beside it. With
  ``file=PATH``, the block is also the same YAML as that file of the repository.
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
* ``<!-- test: shell -->`` before a ```` ```bash ```` block: runs with bash (``set -e``)
  in a scratch directory holding ``examples/`` and ``.venv/bin/bastion``, ``bastion`` on
  the ``PATH`` and a scratch database. ``<!-- test: shell-run -->``: the same, against
  the gateway of ``run`` blocks and its database.

What a block shows as output is checked: in Python, the comment after a ``print(...)``
on its line, or a comment line right below it; in shell, a comment line right below a
command (a comment at the end of a command's line is prose). Each such line must be
printed, in the order shown. ``…`` stands for any text, a pseudonym ``<EMAIL_1f0c9a2e>``
for any of its class, a policy digest ``name@label+f3274f8f1089`` for any digest, and a
closing remark in parentheses is prose.

Extra ``NAME=value`` words in the comment are environment variables for the block
(lower-case names, such as ``file``, are options).
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
from tests.e2e.processes import BASTION, cli_json, free_port, start, stop, wait_http

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
    "shell": "bash",
    "shell-run": "bash",
}


@dataclass(frozen=True)
class DocBlock:
    """One marked code block of a document."""

    kind: str
    lang: str
    code: str
    env: dict[str, str]
    options: dict[str, str]
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
            words = dict(word.split("=", 1) for word in match["attrs"].split() if "=" in word)
            found.append(
                DocBlock(
                    kind=match["kind"],
                    lang=match["lang"],
                    code=match["code"],
                    env={name: value for name, value in words.items() if not name.islower()},
                    options={name: value for name, value in words.items() if name.islower()},
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
    if "file" in block.options:
        shown = yaml.safe_load(block.code)
        real = yaml.safe_load((ROOT / block.options["file"]).read_text(encoding="utf-8"))
        assert shown == real, f"{block} no longer shows {block.options['file']}"


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


_PRINT_LINE = re.compile(r"^\s*print\(.*\)\s+#\s?(?P<shown>.+)$")
_COMMENT_LINE = re.compile(r"^\s*#\s?(?P<shown>.+)$")
_REMARK = re.compile(r"\s+\([^()]*\)$")
_VARIABLE = re.compile(
    r"(?P<any>…)|<(?P<pseudonym>[A-Z][A-Z_]*)_[0-9a-f]{8}>|(?P<digest>\+[0-9a-f]{12}\b)"
)
_FOR_VARIABLE = {"any": ".*", "pseudonym": "<{}_[0-9a-f]{{8,}}>", "digest": r"\+[0-9a-f]{{12}}"}


def _shown_output(block: DocBlock) -> list[str]:
    """The output lines a block shows in its comments (module docstring)."""
    shown: list[str] = []
    after_output = False  # the previous line printed: a comment line below is its output
    for line in block.code.splitlines():
        comment = _COMMENT_LINE.match(line)
        if comment and after_output:
            shown.append(comment["shown"])
            continue
        if block.lang == "python":
            printed = _PRINT_LINE.match(line)
            if printed:
                shown.append(printed["shown"])
            after_output = printed is not None or line.lstrip().startswith("print(")
        else:
            after_output = bool(line.strip()) and comment is None
    return shown


def _as_pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern: literal text, with ``_VARIABLE`` parts standing for any."""
    text = _REMARK.sub("", shown.strip())
    pattern, done = "", 0
    for variable in _VARIABLE.finditer(text):
        kind = variable.lastgroup or "any"
        pattern += re.escape(text[done : variable.start()])
        pattern += _FOR_VARIABLE[kind].format(variable[kind])
        done = variable.end()
    return re.compile(pattern + re.escape(text[done:]))


def test_shown_output_patterns() -> None:
    """The matching rules of the module docstring, on their own examples."""
    assert _as_pattern("Email <EMAIL_1f0c9a2e> the Q3 report").fullmatch(
        "Email <EMAIL_a849073d> the Q3 report"
    )
    assert _as_pattern("Bearer sk-… (the provider key, not yours)").fullmatch("Bearer sk-")
    assert _as_pattern("ok: enterprise@2026-12-02+f3274f8f1089, 28 tests").fullmatch(
        "ok: enterprise@2026-12-02+45a9686aa468, 28 tests"
    )
    assert not _as_pattern("28 cases: 28 passed, 0 failed").fullmatch(
        "27 cases: 27 passed, 0 failed"
    )
    assert not _as_pattern("{'secret.aws_secret_key': 1}").fullmatch("{'secret.aws_secret_key': 2}")


def _check_shown_output(block: DocBlock, stdout: str) -> None:
    """Every output line the block shows was printed, in that order."""
    printed = [line.rstrip() for line in stdout.splitlines()]
    position = 0
    for shown in _shown_output(block):
        pattern = _as_pattern(shown)
        while position < len(printed) and not pattern.fullmatch(printed[position]):
            position += 1
        assert position < len(printed), (
            f"{block} shows {shown!r}, which it did not print (in that order):\n{stdout}"
        )
        position += 1


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
    _check_shown_output(block, done.stdout)


def _run_shell(block: DocBlock, env: dict[str, str], scratch: Path) -> None:
    """Run a shell block where ``examples/`` and ``.venv/bin/bastion`` are as in a clone."""
    bin_dir = scratch / ".venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if not (bin_dir / "bastion").exists():
        (bin_dir / "bastion").symlink_to(BASTION)
        (scratch / "examples").symlink_to(ROOT / "examples")
    done = subprocess.run(
        ["bash", "-e", "-c", block.code],
        env={**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", **block.env},
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{block} failed:\n{done.stdout}\n{done.stderr}"
    _check_shown_output(block, done.stdout)


@pytest.mark.parametrize("block", _of_kind("shell"), ids=str)
def test_shell_example_runs(block: DocBlock, tmp_path: Path) -> None:
    env = {
        **_clean_environment(),
        "BASTION_STORAGE__URL": f"sqlite:///{tmp_path / 'bastion.db'}",
    }
    _run_shell(block, env, tmp_path / "work")


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


@pytest.mark.e2e
@pytest.mark.parametrize("block", _of_kind("shell-run"), ids=str)
def test_gateway_shell_example_runs(
    block: DocBlock, quickstart_env: dict[str, str], tmp_path: Path
) -> None:
    # as on the README's host: an embedded store, where commands without a token act as
    # local-admin (the auditor token of the fixture may not activate policies)
    env = {name: value for name, value in quickstart_env.items() if name != "BASTION_ADMIN_TOKEN"}
    _run_shell(block, env, tmp_path)
