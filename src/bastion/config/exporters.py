"""The ``audit.exporters`` entries of the config file: one per sink, tagged by ``kind``.

Each kind has its own model, so a field of another kind (``token`` on a webhook) is a
load error naming the entry, like any other typo. Secrets (``secret``, ``token``,
header values) come from ``${VAR}`` interpolation and are ``SecretStr`` or kept out of
reprs, so they never reach logs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ExportedEvent = Literal["call", "admin"]


def _every_event() -> list[ExportedEvent]:
    return ["call", "admin"]


class _ExporterBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="Unique name: keys the exporter's cursor in the store and its metrics.",
    )
    events: list[ExportedEvent] = Field(
        default_factory=_every_event,
        min_length=1,
        description="Which records to export: call (one per call) and admin (admin actions).",
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="Most records per delivery.")
    poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often the store is read for new records when idle."
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="Longest wait for one delivery.")
    max_backoff_s: float = Field(
        60.0, ge=0.1, le=3600, description="Longest wait between retries of a failed delivery."
    )
    lease_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="How long one replica holds the exporter before another may take over.",
    )

    @field_validator("events")
    @classmethod
    def _no_repeats(cls, value: list[ExportedEvent]) -> list[ExportedEvent]:
        if len(set(value)) != len(value):
            raise ValueError("events lists an event kind twice")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> _ExporterBase:
        if self.lease_s <= self.timeout_s:
            raise ValueError(
                f"lease_s ({self.lease_s:g}) must be longer than timeout_s ({self.timeout_s:g}),"
                " or another replica could take over during a delivery"
            )
        return self


class OtlpExporterConfig(_ExporterBase):
    kind: Literal["otlp"] = Field(description="OpenTelemetry collector, OTLP/HTTP JSON logs.")
    endpoint: str = Field(
        pattern=r"^https?://",
        description="Collector base URL, e.g. http://otel-collector:4318 (/v1/logs is added).",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra request headers, e.g. an API key (use ${VAR})."
    )


class WebhookExporterConfig(_ExporterBase):
    kind: Literal["webhook"] = Field(description="HTTP POST of a JSON array of records.")
    url: str = Field(pattern=r"^https?://", description="Where records are POSTed.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra request headers (use ${VAR} for secrets)."
    )
    secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key: the body's signature goes in signature_header as "
        "sha256=<hex> (use ${VAR}).",
    )
    signature_header: str = Field(
        "X-Bastion-Signature", min_length=1, description="Header carrying the signature."
    )


class SplunkHecExporterConfig(_ExporterBase):
    kind: Literal["splunk_hec"] = Field(description="Splunk HTTP Event Collector.")
    endpoint: str = Field(
        pattern=r"^https?://",
        description="HEC base URL, e.g. https://splunk:8088 (/services/collector/event is added).",
    )
    token: SecretStr = Field(description="HEC token, sent as 'Authorization: Splunk <token>'.")
    index: str | None = Field(None, description="Target index; the token's default when unset.")
    source: str = Field("bastion", min_length=1, description="HEC source field.")
    sourcetype: str = Field("bastion:audit", min_length=1, description="HEC sourcetype field.")


SyslogFacility = Literal[
    "auth", "authpriv", "daemon", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7", "user",
]  # fmt: skip


class SyslogExporterConfig(_ExporterBase):
    kind: Literal["syslog"] = Field(description="RFC 5424 syslog, one record per message.")
    host: str = Field(min_length=1, description="Syslog server host.")
    port: int = Field(514, ge=1, le=65535, description="Syslog server port.")
    transport: Literal["udp", "tcp"] = Field(
        "tcp",
        description="tcp (octet counting, RFC 6587; delivery errors are retried) or udp "
        "(datagrams, RFC 5426; no delivery confirmation).",
    )
    tls: bool = Field(False, description="TLS over tcp (RFC 5425).")
    facility: SyslogFacility = Field("local0", description="Syslog facility of the messages.")
    app_name: str = Field(
        "bastion", pattern=r"^[!-~]{1,48}$", description="APP-NAME field of each message."
    )


AuditExporterConfig = Annotated[
    OtlpExporterConfig | WebhookExporterConfig | SplunkHecExporterConfig | SyslogExporterConfig,
    Field(discriminator="kind"),
]
"""One ``audit.exporters`` entry; ``kind`` selects the model."""
