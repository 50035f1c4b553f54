"""The parts a gateway is assembled from (built by the server's app factory)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bastion.audit.rejections import RejectionSummary
from bastion.config.schema import ModelConfig
from bastion.crypto.keyring import Keyring
from bastion.detect.base import Inspector, NoDetectors
from bastion.limits.base import Limiter, Unlimited
from bastion.model import AuthenticatedKey, CallRecord, Endpoint, Principal
from bastion.model.exceptions import PolicyException
from bastion.pipeline.content import ContentCapture, NoContent
from bastion.pipeline.idempotency import Idempotency
from bastion.pipeline.metrics import GatewayMetrics, OverheadSamples
from bastion.pipeline.tracing import CallTracer, NoTracing
from bastion.policy.base import AllowAll, Decider
from bastion.providers import UpstreamResponse
from bastion.transform.base import NoTransform, Transformer
from bastion.wire.request import WireOptions


class Verifier(Protocol):
    """Turns a presented bearer key into a verified key, or raises 401/503."""

    async def verify(self, presented: str | None) -> AuthenticatedKey: ...


class LiveStream(Protocol):
    """An upstream stream whose first bytes arrived (``providers.UpstreamStream``)."""

    provider: str

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Upstream(Protocol):
    """Sends a decided call to the routed model's upstream targets (``providers.Router``)."""

    async def send(
        self, public_model: str, endpoint: Endpoint, body: dict[str, Any], *, stream: bool
    ) -> UpstreamResponse | LiveStream: ...


class AuditTrail(Protocol):
    """Where call records go (``audit.AuditLog``; ``audit.AuditWriter`` in tests).

    ``intent`` returns once the call's intent is durable (or raises 503
    ``audit_unavailable``); ``submit`` takes the terminal record and never raises.
    """

    @property
    def healthy(self) -> bool: ...

    async def intent(self, record: CallRecord) -> None: ...

    def submit(self, record: CallRecord) -> None: ...


class ExceptionLookup(Protocol):
    """Dynamic policy exceptions the decide phase passes to the policy (``ExceptionBook``)."""

    def for_call(
        self, principal: Principal, exception_id: str | None
    ) -> tuple[PolicyException, ...]: ...

    def note_use(self, exception_id: str) -> None: ...


class NoExceptions:
    """No exception store: only the policy file's static exceptions apply."""

    def for_call(
        self, principal: Principal, exception_id: str | None
    ) -> tuple[PolicyException, ...]:
        return ()

    def note_use(self, exception_id: str) -> None:
        return None


@dataclass(slots=True)
class GatewayParts:
    """Everything the pipeline calls, one object per stage."""

    verifier: Verifier
    router: Upstream
    audit: AuditTrail
    models: Mapping[str, ModelConfig]
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    overhead_samples: OverheadSamples = field(default_factory=OverheadSamples)
    wire: WireOptions = field(default_factory=WireOptions)
    limiter: Limiter = field(default_factory=Unlimited)
    inspector: Inspector = field(default_factory=NoDetectors)
    decider: Decider = field(default_factory=AllowAll)
    exceptions: ExceptionLookup = field(default_factory=NoExceptions)
    transformer: Transformer = field(default_factory=NoTransform)
    rejections: RejectionSummary = field(default_factory=RejectionSummary)
    keyring: Keyring = field(default_factory=Keyring.generate)
    """The deployment's keys (output redaction's keyed ``hash`` uses the pseudonym key)."""
    content: ContentCapture = field(default_factory=NoContent)
    """Content retention (``pipeline.content.ContentKeeper``): keeps nothing by default."""
    idempotency: Idempotency = field(default_factory=Idempotency)
    """``Idempotency-Key`` retries (``pipeline.idempotency``): off without a store."""
    tracer: CallTracer = field(default_factory=NoTracing)
    """Call traces (``pipeline.tracing``): off by default."""
    class_set: str | None = None
    """Digest of the classes ``inspector`` looks for (``Guardrails.class_set_digest``);
    call records name it so replay can tell "not found" from "not looked for"."""
