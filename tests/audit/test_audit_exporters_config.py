"""``audit.exporters`` in the config file: each kind's fields, typos and repeats refused,
secrets kept out of reprs, and the JSON schema describing every kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import config_json_schema, load_config
from bastion.errors import ConfigError


def _load(tmp_path: Path, exporters: str, env: dict[str, str] | None = None) -> object:
    path = tmp_path / "bastion.yaml"
    path.write_text(f"audit:\n  exporters:\n{exporters}")
    return load_config(path, environ=env or {})


def test_one_exporter_of_each_kind_loads(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """\
    - {name: otel, kind: otlp, endpoint: "http://otel:4318", headers: {x-key: "${K}"}}
    - {name: hook, kind: webhook, url: "https://hooks.example/audit", secret: "${S}"}
    - {name: splunk, kind: splunk_hec, endpoint: "https://splunk:8088", token: "${T}"}
    - {name: siem, kind: syslog, host: siem.internal, port: 6514, tls: true}
""",
        {"K": "key-value", "S": "hook-secret", "T": "hec-token"},
    )
    exporters = config.audit.exporters  # type: ignore[attr-defined]
    assert [(e.name, e.kind) for e in exporters] == [
        ("otel", "otlp"),
        ("hook", "webhook"),
        ("splunk", "splunk_hec"),
        ("siem", "syslog"),
    ]
    assert exporters[2].token.get_secret_value() == "hec-token"
    shown = repr(exporters)
    assert "hook-secret" not in shown and "hec-token" not in shown and "key-value" not in shown


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            '    - {name: hook, kind: webhook, url: "http://h", token: x}\n',
            "token",
            id="field-of-another-kind",
        ),
        pytest.param(
            '    - {name: hook, kind: webhok, url: "http://h"}\n', "webhok", id="unknown-kind"
        ),
        pytest.param(
            '    - {name: hook, kind: webhook, url: "http://h"}\n'
            '    - {name: hook, kind: otlp, endpoint: "http://o"}\n',
            "repeated: hook",
            id="repeated-name",
        ),
        pytest.param(
            '    - {name: "Hook One", kind: webhook, url: "http://h"}\n', "name", id="bad-name"
        ),
        pytest.param(
            '    - {name: s, kind: splunk_hec, endpoint: "http://s"}\n', "token", id="no-token"
        ),
        pytest.param(
            "    - {name: s, kind: syslog, host: h, transport: tls}\n", "transport", id="transport"
        ),
        pytest.param('    - {name: h, kind: webhook, url: "ftp://h"}\n', "url", id="not-http"),
    ],
)
def test_mistakes_are_refused_naming_the_field(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, entry)


def test_the_schema_describes_every_exporter_kind() -> None:
    definitions = config_json_schema()["$defs"]
    exporters = definitions["AuditConfig"]["properties"]["exporters"]
    assert exporters["description"]
    kinds = {
        name: definitions[name]
        for name in (
            "OtlpExporterConfig",
            "WebhookExporterConfig",
            "SplunkHecExporterConfig",
            "SyslogExporterConfig",
        )
    }
    for name, model in kinds.items():
        for field, spec in model["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"
