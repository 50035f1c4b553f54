"""Facts of a call given as a raw request body, found by the config's real detectors:
what ``bastion policy test`` and ``explain`` and the admin API's policy simulator decide
on (the gateway's parse → inspect → facts steps, without a key, a store or an upstream).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bastion.config import BastionConfig
from bastion.crypto.keyring import Keyring
from bastion.detect.inspector import DetectorInspector
from bastion.errors import ApiError
from bastion.model import Conversation, Endpoint, Finding, Principal
from bastion.model.facts import CallFacts, call_facts
from bastion.pipeline.guardrails import build_guardrails
from bastion.policy.document import PolicyTest
from bastion.policy.testing import CaseError, facts_from_findings, principal_of
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions


@dataclass(frozen=True, slots=True)
class ScannedRequest:
    """A request body parsed and scanned: its texts, what was found in them (class,
    span, score; never a value), and the facts the policy decides on."""

    conversation: Conversation
    findings: tuple[Finding, ...]
    facts: CallFacts


class RequestFacts:
    """Builds ``CallFacts`` from request bodies.

    ``inspector`` is the running gateway's detectors when there is one; otherwise the
    config's detectors load on first use, with an ephemeral keyring (fingerprints are
    never shown, and nothing is written).
    """

    def __init__(
        self,
        config: BastionConfig,
        wire: WireOptions,
        inspector: DetectorInspector | None = None,
    ) -> None:
        self._config = config
        self._wire = wire
        self._inspector = inspector

    def _detectors(self) -> DetectorInspector:
        if self._inspector is None:
            self._inspector = build_guardrails(self._config, keyring=Keyring.generate()).inspector
        return self._inspector

    def scan_body(
        self,
        body: Mapping[str, Any],
        endpoint: str,
        principal: Principal,
        *,
        model: str | None = None,
        tools: Sequence[str] = (),
        exception: str | None = None,
    ) -> ScannedRequest:
        """Parse and scan ``body`` sent to ``endpoint`` by ``principal``; ``model``,
        ``tools`` and ``exception`` override or add to what the body says. CaseError
        when the body is not a request the endpoint accepts."""
        if model is not None:
            body = {**body, "model": model}
        raw = json.dumps(body).encode("utf-8")
        try:
            parsed = parse_body(raw, Endpoint(endpoint), self._wire)
        except ApiError as exc:
            raise CaseError(f"request: {exc.message}") from exc
        conversation = parsed.conversation
        findings = tuple(self._detectors().inspect(conversation))
        configured = self._config.models.get(conversation.model)
        provider = configured.targets[0].provider if configured is not None else None
        facts = call_facts(principal, conversation, findings, provider)
        facts = replace(
            facts,
            tools=tuple(dict.fromkeys((*facts.tools, *tools))),
            exception_id=exception or facts.exception_id,
        )
        return ScannedRequest(conversation, findings, facts)

    def of_body(
        self,
        body: Mapping[str, Any],
        endpoint: str,
        principal: Principal,
        *,
        model: str | None = None,
        tools: Sequence[str] = (),
        exception: str | None = None,
    ) -> CallFacts:
        """The facts of ``body`` (see :meth:`scan_body`)."""
        scanned = self.scan_body(
            body, endpoint, principal, model=model, tools=tools, exception=exception
        )
        return scanned.facts

    def of_case(self, test: PolicyTest) -> CallFacts:
        """The facts of a policy test case: its canned findings, or its request scanned."""
        if test.request is None:
            return facts_from_findings(test)
        return self.of_body(
            test.request,
            test.endpoint,
            principal_of(test.principal),
            model=test.model,
            tools=test.tools,
            exception=test.exception,
        )
