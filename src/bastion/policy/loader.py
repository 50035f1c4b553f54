"""Reading a policy file: YAML with lines, validation, compilation; errors name
``file:line`` and the key. ``Policy`` is the pipeline's ``Decider`` for a loaded file."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from bastion.config.diagnostics import config_error_from_validation
from bastion.config.layers import Origin
from bastion.config.yaml_lines import dotted, load_lined_yaml
from bastion.errors import ConfigError
from bastion.model import Decision
from bastion.model.exceptions import PolicyException
from bastion.model.facts import CallFacts
from bastion.policy.compiler import CompiledPolicy, PolicyError, compile_policy
from bastion.policy.document import PolicyDocument, Sensitivity
from bastion.policy.evaluate import Step, evaluate

POLICY_SECTIONS = "name:, version:, rules:, ..."
"""The top-level keys a policy file's errors suggest."""


class Policy:
    """A compiled policy file: decides calls (pure) and says which models it approves."""

    def __init__(self, compiled: CompiledPolicy, path: Path | None = None) -> None:
        self.compiled = compiled
        self.path = path

    @property
    def version(self) -> str:
        """``name@label+sha256[:12]``: shown in ``x-bastion-policy`` and every record."""
        return self.compiled.version

    @property
    def document(self) -> PolicyDocument:
        return self.compiled.document

    def approves(self, model: str) -> bool:
        return self.compiled.approves(model)

    def decide(
        self,
        facts: CallFacts,
        exceptions: Sequence[PolicyException] = (),
        now: float | None = None,
        trace: list[Step] | None = None,
    ) -> Decision:
        moment = time.time() if now is None else now
        return evaluate(self.compiled, facts, exceptions, moment, trace)


def parse_policy(
    text: str,
    source: str,
    class_sensitivity: Mapping[str, Sensitivity],
    *,
    model_providers: Mapping[str, str] | None = None,
    check: Callable[[PolicyDocument], None] | None = None,
) -> Policy:
    """Validate and compile policy ``text`` (named ``source`` in errors); ``check``
    adds the caller's own checks (raising ``PolicyError`` with the key path, so its
    errors name the line too)."""
    lined = load_lined_yaml(text, source, sections=POLICY_SECTIONS)
    origins = {key: Origin("file", source, line) for key, line in lined.lines.items()}
    try:
        document = PolicyDocument.model_validate(lined.data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, PolicyDocument, origins, source) from exc
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    version = f"{document.name}@{document.version}+{digest[:12]}"
    try:
        compiled = compile_policy(document, version, class_sensitivity)
        if check is not None:
            check(document)
    except PolicyError as exc:
        line = _line_of(lined.lines, exc.where)
        raise ConfigError(f"{source}{line}: {dotted(exc.where)}: {exc}") from exc
    if model_providers:
        compiled.model_providers.update(model_providers)
    return Policy(compiled)


def load_policy(
    path: Path,
    class_sensitivity: Mapping[str, Sensitivity],
    *,
    model_providers: Mapping[str, str] | None = None,
) -> Policy:
    """Read, validate and compile the policy file at ``path``."""
    text = read_policy_text(path)
    policy = parse_policy(text, str(path), class_sensitivity, model_providers=model_providers)
    policy.path = path
    return policy


def read_policy_text(path: Path) -> str:
    """The policy file at ``path`` as text; ConfigError when unreadable or not UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the policy file is not UTF-8 text") from exc


def _line_of(lines: Mapping[tuple[str | int, ...], int], where: tuple[str | int, ...]) -> str:
    for cut in range(len(where), 0, -1):
        line = lines.get(where[:cut])
        if line is not None:
            return f":{line}"
    return ""
