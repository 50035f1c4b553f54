"""Audit exporters against real local sinks: a webhook that goes down and recovers,
Splunk HEC, an OTLP collector, syslog over TCP and UDP; the durable cursor, the lease
between replicas (SQLite and PostgreSQL), and the record format."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from tests.audit.exporter_sinks import (
    ChainWriter,
    SyslogTcpListener,
    SyslogUdpListener,
    admin_action,
    documents,
    http_receiver,
)
from tests.e2e.processes import free_port

from bastion.audit.exporters.base import SINK_KINDS, SinkError, build_sink
from bastion.audit.exporters.metrics import prometheus_meters
from bastion.audit.exporters.records import ExportRecord
from bastion.audit.exporters.runner import Exporter, backoff_s
from bastion.cli.audit_search import json_line
from bastion.config.exporters import (
    OtlpExporterConfig,
    SplunkHecExporterConfig,
    SyslogExporterConfig,
    WebhookExporterConfig,
)
from bastion.storage import Database
from bastion.storage.audit_exports import AuditExportRepository

CHAIN_FIELDS = ("event", "writer_id", "seq")


async def eventually(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 (polling a receiver)
            await asyncio.sleep(0.02)


async def drain(exporter: Exporter) -> None:
    while await exporter.run_once():
        pass


def webhook(url: str, **fields: Any) -> WebhookExporterConfig:
    return WebhookExporterConfig(name="hook", kind="webhook", url=url, **fields)


class RecordingSink:
    """A sink faked at the interface, for lease and cursor tests."""

    kind = "recording"

    def __init__(self) -> None:
        self.received: list[ExportRecord] = []

    async def send(self, records: Sequence[ExportRecord]) -> None:
        self.received.extend(records)

    async def close(self) -> None:
        return None


# --- webhook: down, then back -------------------------------------------------------


async def test_a_webhook_that_is_down_gets_every_record_once_in_order_after_it_recovers(
    sqlite_database: Database,
) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 7)
    async with http_receiver() as receiver:
        config = webhook(receiver.url + "/audit", batch_size=3)
        exporter = Exporter(
            config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
        )
        receiver.down = True
        for _ in range(3):
            with pytest.raises(SinkError, match="HTTP 503"):
                await exporter.run_once()
        await writer.calls(7, 5)  # calls go on while the sink is down
        receiver.down = False
        await drain(exporter)
        await exporter.close()
    delivered = documents(receiver.bodies())
    assert [d["request_id"] for d in delivered] == [r.request_id for r in writer.records]
    assert max(len(orjson.loads(body)) for body in receiver.bodies()) == 3
    assert receiver.failed == 3


async def test_the_background_loop_retries_until_the_sink_is_back(
    sqlite_database: Database,
) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 5)
    store = AuditExportRepository(sqlite_database)
    async with http_receiver() as receiver:
        config = webhook(receiver.url, max_backoff_s=0.1, poll_interval_s=0.05)
        registry = CollectorRegistry()
        meters = prometheus_meters(registry)
        exporter = Exporter(config, build_sink(config), store, owner="me", meters=meters)
        receiver.down = True
        exporter.start()
        await eventually(lambda: receiver.failed >= 3)
        labels = {"exporter": "hook"}
        failures = registry.get_sample_value("bastion_audit_export_failures_total", labels)
        assert failures is not None and failures >= 3
        status = (await store.status())[0]
        assert status.last_error == "receiver answered HTTP 503"
        assert status.exported == 0 and status.behind == 10
        receiver.down = False
        await writer.calls(5, 2)
        await eventually(lambda: len(documents(receiver.bodies())) >= 7)
        await exporter.close()
    delivered = documents(receiver.bodies())
    assert [d["request_id"] for d in delivered] == [r.request_id for r in writer.records]
    status = (await store.status())[0]
    assert status.exported == 7 and status.behind == 0
    assert status.lease_owner is None  # released at close


async def test_an_unreachable_webhook_fails_without_naming_its_url(
    sqlite_database: Database,
) -> None:
    await ChainWriter(sqlite_database).calls(0, 1)
    config = webhook(f"http://127.0.0.1:{free_port()}/hook?token=s3cr3t-in-url")
    exporter = Exporter(
        config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
    )
    with pytest.raises(SinkError) as failure:
        await exporter.run_once()
    await exporter.close()
    assert "s3cr3t" not in str(failure.value) and "127.0.0.1" not in str(failure.value)


async def test_a_webhook_body_is_signed_with_hmac_sha256_and_names_its_delivery(
    sqlite_database: Database,
) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 2)
    async with http_receiver() as receiver:
        config = webhook(
            receiver.url, secret="hook-secret", headers={"X-Tenant": "blue"}, batch_size=10
        )
        exporter = Exporter(
            config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
        )
        await drain(exporter)
        await exporter.close()
    [(_path, headers, body)] = receiver.requests
    expected = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    assert headers["X-Bastion-Signature"] == f"sha256={expected}"
    assert headers["X-Tenant"] == "blue"
    assert headers["X-Bastion-Delivery"] == "w1:3-4"  # seqs of the two completions
    assert headers["Content-Type"] == "application/json"


# --- what a record holds ------------------------------------------------------------


async def test_a_call_document_holds_the_fields_of_the_jsonl_export_plus_its_chain_place(
    sqlite_database: Database,
) -> None:
    writer = ChainWriter(sqlite_database)
    [record] = await writer.calls(0, 1)
    sink = RecordingSink()
    await drain(Exporter(webhook("http://unused"), sink, AuditExportRepository(sqlite_database)))
    [exported] = sink.received
    document = exported.document
    assert {k: document[k] for k in CHAIN_FIELDS} == {"event": "call", "writer_id": "w1", "seq": 2}
    rest = {k: v for k, v in document.items() if k not in CHAIN_FIELDS}
    assert rest == orjson.loads(json_line(record))


async def test_admin_actions_are_exported_and_intents_never(sqlite_database: Database) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 2)
    await writer.intents_only(3)  # calls still running
    await admin_action(sqlite_database, "req_0000")
    store = AuditExportRepository(sqlite_database)
    sink = RecordingSink()
    await drain(Exporter(webhook("http://unused"), sink, store, owner="me"))
    assert [(r.event, r.request_id) for r in sink.received] == [
        ("admin", "req_0000"),  # the admin writer sorts first
        ("call", "req_0000"),
        ("call", "req_0001"),
    ]
    admin = sink.received[0].document
    assert admin["action"] == "content.decrypt" and admin["actor"] == "alice"
    assert (await store.status())[0].behind == 0  # the cursor passed the open intents


async def test_events_selects_what_an_exporter_sends(sqlite_database: Database) -> None:
    await ChainWriter(sqlite_database).calls(0, 3)
    await admin_action(sqlite_database, "req_0001")
    sink = RecordingSink()
    config = webhook("http://unused", events=["admin"])
    await drain(Exporter(config, sink, AuditExportRepository(sqlite_database)))
    assert [r.event for r in sink.received] == ["admin"]


async def test_each_writer_is_delivered_in_its_own_order(sqlite_database: Database) -> None:
    first, second = ChainWriter(sqlite_database, "wa"), ChainWriter(sqlite_database, "wb")
    await first.calls(0, 4)
    await second.calls(100, 3)
    await first.calls(4, 2)
    sink = RecordingSink()
    config = webhook("http://unused", batch_size=2)
    await drain(Exporter(config, sink, AuditExportRepository(sqlite_database)))
    for writer in (first, second):
        mine = [r.request_id for r in sink.received if r.writer_id == writer.chain.writer_id]
        assert mine == [r.request_id for r in writer.records]
    assert len(sink.received) == 9


# --- the lease and the cursor, on SQLite and PostgreSQL -----------------------------


async def test_one_replica_exports_at_a_time_and_another_takes_over(database: Database) -> None:
    writer = ChainWriter(database)
    await writer.calls(0, 6)
    store = AuditExportRepository(database)
    config = webhook("http://unused", batch_size=2)
    sinks = RecordingSink(), RecordingSink()
    replicas = [Exporter(config, sink, store, owner=f"replica-{i}") for i, sink in enumerate(sinks)]
    for _ in range(4):  # both try, concurrently; one holds the lease
        await asyncio.gather(*(replica.run_once() for replica in replicas))
    delivered = [r.request_id for sink in sinks for r in sink.received]
    assert sorted(delivered) == [r.request_id for r in writer.records]
    holder = 0 if sinks[0].received else 1
    assert not sinks[1 - holder].received
    await replicas[holder].close()  # gives the lease up
    await writer.calls(6, 2)
    await drain(replicas[1 - holder])
    taken_over = [r.request_id for r in sinks[1 - holder].received]
    assert taken_over == ["req_0006", "req_0007"]  # from the shared cursor on


async def test_an_expired_lease_passes_to_another_replica(database: Database) -> None:
    writer = ChainWriter(database)
    await writer.calls(0, 2)
    store = AuditExportRepository(database)
    config = webhook("http://unused", lease_s=30)
    now = 1_800_000_000.0
    stalled, standby = RecordingSink(), RecordingSink()
    first = Exporter(config, stalled, store, owner="first", clock=lambda: now)
    assert await first.run_once()
    await writer.calls(2, 1)
    second = Exporter(config, standby, store, owner="second", clock=lambda: now + 10)
    assert not await second.run_once()  # the lease is still held
    later = Exporter(config, standby, store, owner="second", clock=lambda: now + 31)
    assert await later.run_once()
    assert not await first.run_once()  # the first replica lost it and delivers nothing
    assert [r.request_id for r in stalled.received] == ["req_0000", "req_0001"]
    assert [r.request_id for r in standby.received] == ["req_0002"]


async def test_a_cursor_survives_a_restart(database: Database) -> None:
    writer = ChainWriter(database)
    await writer.calls(0, 3)
    config = webhook("http://unused")
    before = RecordingSink()
    exporter = Exporter(config, before, AuditExportRepository(database), owner="a")
    await drain(exporter)
    await exporter.close()
    await writer.calls(3, 2)
    after = RecordingSink()
    await drain(Exporter(config, after, AuditExportRepository(database), owner="b"))
    assert [r.request_id for r in after.received] == ["req_0003", "req_0004"]


# --- other sinks ---------------------------------------------------------------------


async def test_splunk_hec_gets_hec_events_with_its_token(sqlite_database: Database) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 3)
    async with http_receiver() as receiver:
        config = SplunkHecExporterConfig(
            name="splunk", kind="splunk_hec", endpoint=receiver.url, token="hec-tok", index="ai"
        )
        exporter = Exporter(
            config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
        )
        receiver.down = True
        with pytest.raises(SinkError):
            await exporter.run_once()
        receiver.down = False
        await drain(exporter)
        await exporter.close()
    [(path, headers, body)] = receiver.requests
    assert path == "/services/collector/event"
    assert headers["Authorization"] == "Splunk hec-tok"
    events = [orjson.loads(line) for line in body.split(b"\n")]
    assert [e["event"]["request_id"] for e in events] == ["req_0000", "req_0001", "req_0002"]
    assert {(e["sourcetype"], e["source"], e["index"]) for e in events} == {
        ("bastion:audit", "bastion", "ai")
    }
    assert events[0]["time"] == writer.records[0].started_at


async def test_an_otlp_collector_gets_one_log_record_per_audit_record(
    sqlite_database: Database,
) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 2)
    async with http_receiver() as receiver:
        config = OtlpExporterConfig(
            name="otel", kind="otlp", endpoint=receiver.url + "/", headers={"X-Api-Key": "k"}
        )
        exporter = Exporter(
            config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
        )
        await drain(exporter)
        await exporter.close()
    [(path, headers, body)] = receiver.requests
    assert path == "/v1/logs" and headers["X-Api-Key"] == "k"
    [resource_logs] = orjson.loads(body)["resourceLogs"]
    assert resource_logs["resource"]["attributes"] == [
        {"key": "service.name", "value": {"stringValue": "bastion"}}
    ]
    logs = resource_logs["scopeLogs"][0]["logRecords"]
    for log_record, record in zip(logs, writer.records, strict=True):
        attributes = {a["key"]: a["value"] for a in log_record["attributes"]}
        assert attributes["bastion.request_id"] == {"stringValue": record.request_id}
        assert attributes["bastion.decision"] == {"stringValue": record.decision}
        assert attributes["bastion.app"] == {"stringValue": "helpdesk"}
        assert attributes["bastion.environment"] == {"stringValue": "prod"}
        assert orjson.loads(log_record["body"]["stringValue"])["request_id"] == record.request_id
        assert log_record["timeUnixNano"] == str(int(record.started_at * 1e9))


_RFC5424 = re.compile(
    rb"^<(?P<pri>\d+)>1 (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (?P<host>\S+) "
    rb"(?P<app>\S+) (?P<pid>\d+) (?P<msgid>call|admin) - (?P<msg>\{.*\})$"
)


async def test_syslog_over_tcp_waits_for_the_server_then_sends_rfc5424_frames(
    sqlite_database: Database,
) -> None:
    writer = ChainWriter(sqlite_database)
    await writer.calls(0, 3)
    await admin_action(sqlite_database, "req_0002")
    listener = SyslogTcpListener(port=free_port())
    config = SyslogExporterConfig(
        name="siem", kind="syslog", host="127.0.0.1", port=listener.port, facility="local4"
    )
    exporter = Exporter(
        config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
    )
    with pytest.raises(SinkError, match="ConnectionRefusedError"):
        await exporter.run_once()  # nobody listens yet
    await listener.start()
    try:
        await drain(exporter)
        await exporter.close()
        await eventually(lambda: len(listener.messages) == 4)
    finally:
        await listener.stop()
    parsed = [_RFC5424.match(message) for message in listener.messages]
    assert all(parsed), listener.messages
    fields = [(m["pri"], m["app"], m["msgid"]) for m in parsed if m]
    assert fields == [
        (b"165", b"bastion", b"admin"),  # local4 (20) * 8 + notice (5)
        (b"166", b"bastion", b"call"),  # info (6)
        (b"166", b"bastion", b"call"),
        (b"166", b"bastion", b"call"),
    ]
    calls = [orjson.loads(m["msg"]) for m in parsed[1:] if m]
    assert [c["request_id"] for c in calls] == ["req_0000", "req_0001", "req_0002"]


async def test_syslog_over_udp_sends_one_datagram_per_record(sqlite_database: Database) -> None:
    await ChainWriter(sqlite_database).calls(0, 2)
    loop = asyncio.get_running_loop()
    transport, listener = await loop.create_datagram_endpoint(
        SyslogUdpListener, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    config = SyslogExporterConfig(
        name="siem", kind="syslog", host="127.0.0.1", port=port, transport="udp"
    )
    exporter = Exporter(
        config, build_sink(config), AuditExportRepository(sqlite_database), owner="me"
    )
    try:
        await drain(exporter)
        await exporter.close()
        await eventually(lambda: len(listener.messages) == 2)
    finally:
        transport.close()
    assert all(_RFC5424.match(message) for message in listener.messages)


# --- retry policy and registry -------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2, 5, 8, 20, 1000])
def test_backoff_doubles_up_to_the_cap_with_jitter(failures: int) -> None:
    longest = backoff_s(failures, 60.0, draw=lambda: 1.0)
    shortest = backoff_s(failures, 60.0, draw=lambda: 0.0)
    assert longest == min(60.0, 0.5 * 2 ** (failures - 1))
    assert shortest == longest / 2


@pytest.mark.parametrize("kind", sorted(SINK_KINDS))
def test_every_sink_kind_resolves_to_a_sink_naming_itself(kind: str) -> None:
    fields: dict[str, dict[str, Any]] = {
        "otlp": {"endpoint": "http://collector:4318"},
        "webhook": {"url": "http://hooks/audit"},
        "splunk_hec": {"endpoint": "https://splunk:8088", "token": "t"},
        "syslog": {"host": "siem"},
    }
    models = {
        "otlp": OtlpExporterConfig,
        "webhook": WebhookExporterConfig,
        "splunk_hec": SplunkHecExporterConfig,
        "syslog": SyslogExporterConfig,
    }
    sink = build_sink(models[kind](name="x", kind=kind, **fields[kind]))
    assert type(sink).kind == kind


def test_a_lease_shorter_than_a_delivery_is_refused() -> None:
    with pytest.raises(ValueError, match="lease_s"):
        webhook("http://h", lease_s=5, timeout_s=10)


async def test_metrics_count_deliveries_and_show_the_lag_per_exporter(
    sqlite_database: Database,
) -> None:
    await ChainWriter(sqlite_database).calls(0, 4)
    registry = CollectorRegistry()
    sink = RecordingSink()
    exporter = Exporter(
        webhook("http://unused"),
        sink,
        AuditExportRepository(sqlite_database),
        meters=prometheus_meters(registry),
    )
    await drain(exporter)
    exported = registry.get_sample_value("bastion_audit_exported_total", {"exporter": "hook"})
    assert exported == 4
    lag = registry.get_sample_value("bastion_audit_export_lag_seconds", {"exporter": "hook"})
    assert lag == 0.0  # caught up


@pytest.mark.parametrize("kind", sorted(SINK_KINDS))
def test_every_sink_kind_is_documented(kind: str) -> None:
    audit_doc = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    section = audit_doc.split("## Exporters", 1)[1].split("\n## ", 1)[0]
    assert f"| `{kind}` |" in section
    assert f"kind: {kind}" in section  # and in the example config
