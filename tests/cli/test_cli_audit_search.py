"""``bastion audit search`` and ``bastion audit export`` on an embedded store."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.audit.content import CallContent, ContentSealer
from bastion.cli import audit_search
from bastion.cli.main import cli
from bastion.config.loader import load_config
from bastion.crypto.location import open_keyring
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.storage import CallRecordRepository, Database
from bastion.storage.audit_content import AuditContentRepository
from bastion.storage.call_search import CallFilter, CallSearch

PROMPT = "Please summarise the merger memo for Project Larkspur"
T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


def who(team: str, app: str, env: str = "prod") -> Principal:
    return Principal(
        key_id=f"k_{app}", name=app, user=f"u_{team}", app=app, team=team, environment=env
    )


FIN = who("fin", "shop")
SALES = who("sales", "crm", env="dev")


def call(
    n: int,
    principal: Principal,
    decision: str = "allow",
    *,
    classes: tuple[tuple[str, int], ...] = (),
    rules: tuple[str, ...] = (),
    model: str = "gpt-4o-mini",
) -> CallRecord:
    refused = decision == "block"
    return CallRecord(
        request_id=f"req_{n:04d}",
        started_at=T0 + n * 3600,  # one an hour from 2026-11-01T00:00Z
        endpoint="chat.completions",
        principal=principal,
        model_requested=model,
        model_used=model,
        decision=decision,
        status=CallStatus.BLOCKED if refused else CallStatus.COMPLETED,
        http_status=403 if refused else 200,
        usage=Usage(prompt_tokens=10 * n, completion_tokens=n),
        findings=tuple(FindingSummary(c, "user", "messages.0.content", k) for c, k in classes),
        rules=rules,
        cost_usd=0.001 * n,
    )


RECORDS = [
    call(0, FIN),
    call(1, FIN, "redact", classes=(("pii.email", 2),), rules=("pii.redact",)),
    call(2, FIN, "block", classes=(("secret.aws_access_key", 1),), rules=("secrets.block",)),
    call(3, SALES, classes=(("injection.direct", 1),)),
    call(4, SALES, classes=(("pii.email", 1), ("pii.phone", 3)), model="gpt-4o"),
    call(5, SALES, "redact", classes=(("pii.email", 1),), rules=("pii.redact",)),
    call(6, FIN, rules=("secrets.block",)),
]  # fmt: skip


async def _store(
    config_file: Path, records: list[CallRecord], *, content_for: str | None = None
) -> None:
    config = load_config(config_file)
    database = Database.from_url(config.storage.url)
    await database.migrate()
    await CallRecordRepository(database).insert_many(records)
    if content_for is not None:  # the prompt kept in full beside the record
        content = CallContent({"messages": [{"role": "user", "content": PROMPT}]}, ())
        stored = ContentSealer(open_keyring(config)).seal(
            content_for, "full", content, at=T0, app="shop", fingerprints=[]
        )
        await AuditContentRepository(database).insert_many([stored])
    await database.close()


def store(config_file: Path, records: list[CallRecord], **kwargs: Any) -> None:
    asyncio.run(_store(config_file, records, **kwargs))


def run(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["audit", *args, "--config", str(config_file)])


def found(config_file: Path, *args: str) -> list[str]:
    result = run(config_file, "search", *args, "--json")
    assert result.exit_code == 0, result.output
    return [r["request_id"] for r in json.loads(result.stdout)["records"]]


@pytest.fixture
def stored(config_file: Path) -> Path:
    store(config_file, RECORDS)
    return config_file


# --- search ---


def test_search_lists_newest_first_with_names_and_counts(stored: Path) -> None:
    result = run(stored, "search")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "TIME",
        "REQUEST",
        "ID",
        "APP",
        "TEAM",
        "ENV",
        "MODEL",
        "DECISION",
        "RULES",
        "CLASSES",
        "STATUS",
        "TOKENS",
        "COST",
    ]
    assert [line.split()[1] for line in lines[1:]] == [f"req_{n:04d}" for n in range(6, -1, -1)]
    row = next(line for line in lines if "req_0004" in line).split()
    assert row == [
        "2026-11-01T04:00:00+00:00",
        "req_0004",
        "crm",
        "sales",
        "dev",
        "gpt-4o",
        "allow",
        "-",
        "pii.emailx1,pii.phonex3",
        "completed",
        "40+4",
        "$0.004000",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--app", "crm"), [5, 4, 3]),
        (("--team", "fin"), [6, 2, 1, 0]),
        (("--user", "u_sales"), [5, 4, 3]),
        (("--env", "dev"), [5, 4, 3]),
        (("--decision", "redact"), [5, 1]),
        (("--rule", "secrets.block"), [6, 2]),
        (("--class", "pii.email"), [5, 4, 1]),
        (("--class", "pii.*"), [5, 4, 1]),
        (("--class", "secret.*"), [2]),
        (("--model", "gpt-4o"), [4]),
        (("--from", "2026-11-01T02:00:00Z", "--to", "2026-11-01T05:00:00Z"), [4, 3, 2]),
        (("--from", "2026-11-01T03:00:00+01:00"), [6, 5, 4, 3, 2]),  # 02:00 UTC
        (("--to", "2026-11-01T02:00"), [1, 0]),  # no offset: UTC; --to is exclusive
        (("--team", "fin", "--decision", "allow"), [6, 0]),
        (("--app", "nope"), []),
    ],
)
def test_search_filters(stored: Path, args: tuple[str, ...], expected: list[int]) -> None:
    assert found(stored, *args) == [f"req_{n:04d}" for n in expected]


def test_rule_finds_the_calls_an_output_or_tool_rule_acted_on(
    config_file: Path, tmp_path: Path
) -> None:
    # these rules acted only on the answer: their ids are in request_facts, not `rules`
    answered = [
        replace(call(1, FIN), request_facts={"output_blocked": {"rules": ["answer.secrets"]}}),
        replace(call(2, SALES), request_facts={"output_redacted": {"rules": ["answer.secrets"]}}),
        replace(
            call(3, FIN), request_facts={"tool_calls_refused": [{"tool": "sh", "rule": "no.sh"}]}
        ),
    ]
    store(config_file, [*RECORDS[:1], *answered])
    assert found(config_file, "--rule", "answer.secrets") == ["req_0002", "req_0001"]
    assert found(config_file, "--rule", "no.sh") == ["req_0003"]
    out = tmp_path / "calls.jsonl"
    exported = run(config_file, "export", "--out", str(out), "--rule", "answer.secrets", "--json")
    assert json.loads(exported.stdout)["records"] == 2, exported.output


def test_what_search_and_export_show_names_every_rule_that_acted(
    config_file: Path, tmp_path: Path
) -> None:
    # a search by an answer-side rule lists calls that show it, not only the request's
    facts = {
        "output_redacted": {"classes": {"pii.email": 1}, "rules": ["answer.mail", "pii.redact"]},
        "tools_stripped": [{"tool": "sh", "rule": "no.sh"}],
    }
    acted = replace(call(1, FIN, "redact", rules=("pii.redact",)), request_facts=facts)
    store(config_file, [acted])
    expected = ["pii.redact", "answer.mail", "no.sh"]
    table = run(config_file, "search", "--rule", "answer.mail")
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[1].split()[7] == ",".join(expected)
    listed = json.loads(run(config_file, "search", "--rule", "no.sh", "--json").stdout)
    shown = listed["records"][0]
    assert shown["rules"] == ["pii.redact"] and shown["rules_acted"] == expected
    row = next(csv.DictReader(io.StringIO(run(config_file, "search", "--format", "csv").stdout)))
    assert row["rules"] == "pii.redact" and row["rules_acted"] == ";".join(expected)
    exported = run(config_file, "export", "--rule", "answer.mail")
    assert json.loads(exported.stdout)["rules_acted"] == expected


def test_search_limit_says_when_more_match(stored: Path) -> None:
    result = run(stored, "search", "--limit", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [r["request_id"] for r in shown["records"]] == ["req_0006", "req_0005"]
    assert shown["more"] is True
    table = run(stored, "search", "--limit", "2")
    assert "more than 2 calls match" in table.stderr and "more than" not in table.stdout
    assert json.loads(run(stored, "search", "--limit", "7", "--json").stdout)["more"] is False


def test_search_csv_has_a_header_and_one_row_per_record(stored: Path) -> None:
    result = run(stored, "search", "--format", "csv", "--team", "sales")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(audit_search.CSV_COLUMNS)
    assert [r["request_id"] for r in rows] == ["req_0005", "req_0004", "req_0003"]
    assert (
        rows[1]["classes"] == "pii.email:1;pii.phone:3"
        and rows[1]["time"] == "2026-11-01T04:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "--from", "last tuesday"), "not an ISO-8601 date"),
        (("export", "--to", "2026-13-01"), "not an ISO-8601 date"),
        (("search", "--from", "2026-11-02", "--to", "2026-11-01"), "must be before --to"),
        (("search", "--format", "xml"), "'xml' is not one of"),
        (("export", "--format", "parquet"), "'parquet' is not one of"),
        (("search", "--json", "--format", "csv"), "--json conflicts"),
        (("export", "--json"), "add --out FILE"),
    ],
)
def test_usage_errors_exit_2(stored: Path, args: tuple[str, ...], message: str) -> None:
    result = run(stored, *args)
    assert result.exit_code == 2 and message in result.output


def test_an_unreachable_database_exits_1_without_a_traceback(tmp_path: Path) -> None:
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(
        'storage: {url: "postgresql+asyncpg://bastion:s3cret-pw@127.0.0.1:1/bastion"}\n',
        encoding="utf-8",
    )
    for command in (("search",), ("export", "--out", str(tmp_path / "out.jsonl"))):
        result = run(config_file, *command)
        assert result.exit_code == 1, result.output
        assert "reachable" in result.output and "Traceback" not in result.output
        assert "s3cret-pw" not in result.output
    assert not list(tmp_path.glob("out.jsonl*"))  # no partial file left


def test_auditors_may_read_records_app_owners_may_not(stored: Path) -> None:
    def token(role: str) -> str:
        created = CliRunner().invoke(
            cli,
            [
                "admin-token",
                "create",
                "--role",
                role,
                "--subject",
                "eve",
                "--json",
                "--config",
                str(stored),
            ],
        )
        assert created.exit_code == 0, created.output
        return str(json.loads(created.stdout)["token"])

    auditor = {"BASTION_ADMIN_TOKEN": token("auditor")}
    owner = {"BASTION_ADMIN_TOKEN": token("app_owner")}
    for command in (["search"], ["export"]):
        args = ["audit", *command, "--config", str(stored)]
        assert CliRunner().invoke(cli, args, env=auditor).exit_code == 0
        refused = CliRunner().invoke(cli, args, env=owner)
        assert refused.exit_code == 1 and "read call records" in refused.output
        assert "req_0006" not in refused.output


# --- export ---


def test_export_jsonl_pages_through_every_matching_record(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [
        call(n, FIN if n % 3 else SALES, classes=(("pii.email", 1),) if n % 2 else ())
        for n in range(23)
    ]
    store(config_file, records)
    monkeypatch.setattr(audit_search, "EXPORT_PAGE_SIZE", 4)  # six pages
    out = tmp_path / "calls.jsonl"
    result = run(
        config_file, "export", "--format", "jsonl", "--out", str(out), "--class", "pii.email"
    )
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().splitlines()
    expected = [f"req_{n:04d}" for n in range(22, -1, -1) if n % 2]
    assert [json.loads(line)["request_id"] for line in lines] == expected
    assert f"exported {len(expected)} call records to {out}" in result.stderr
    assert result.stdout == ""  # the data went to the file, the summary to stderr
    summary = run(config_file, "export", "--out", str(out), "--team", "sales", "--json")
    assert json.loads(summary.stdout) == {"records": 8, "format": "jsonl", "out": str(out)}
    assert len(out.read_bytes().splitlines()) == 8
    assert not list(tmp_path.glob("*.partial"))


def test_export_to_stdout_past_the_default_page_size(config_file: Path) -> None:
    total = 2 * audit_search.EXPORT_PAGE_SIZE + 3
    store(config_file, [call(n, FIN) for n in range(total)])
    result = run(config_file, "export")  # jsonl on stdout by default
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["request_id"] for line in result.stdout.splitlines()]
    assert len(ids) == len(set(ids)) == total and ids[0] == f"req_{total - 1:04d}"
    assert result.stderr == ""


def test_export_csv_has_a_header_and_a_row_per_match(
    stored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_search, "EXPORT_PAGE_SIZE", 2)
    out = tmp_path / "calls.csv"
    result = run(
        stored, "export", "--format", "csv", "--out", str(out), "--from", "2026-11-01T01:00:00Z"
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(audit_search.CSV_COLUMNS)
    rows = list(csv.DictReader(lines))
    assert [r["request_id"] for r in rows] == [f"req_{n:04d}" for n in range(6, 0, -1)]
    assert rows[-1]["rules"] == "pii.redact" and rows[-1]["decision"] == "redact"


def test_csv_quotes_caller_values_that_look_like_formulas(config_file: Path) -> None:
    store(config_file, [call(1, FIN, model='=HYPERLINK("http://evil")')])
    result = run(config_file, "export", "--format", "csv")
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert row["model_requested"] == '\'=HYPERLINK("http://evil")'


def test_exports_never_hold_prompt_text(config_file: Path, tmp_path: Path) -> None:
    store(config_file, RECORDS, content_for="req_0001")
    shown = run(config_file, "show", "req_0001")
    assert shown.exit_code == 0 and PROMPT in shown.output  # the prompt is in the store
    out = tmp_path / "calls.csv"
    outputs = [
        run(config_file, "export").stdout,
        run(config_file, "search", "--json").stdout,
        run(config_file, "search", "--format", "csv").stdout,
        run(config_file, "search").stdout,
    ]
    assert run(config_file, "export", "--format", "csv", "--out", str(out)).exit_code == 0
    outputs.append(out.read_text(encoding="utf-8"))
    for output in outputs:
        assert "req_0001" in output
        assert "Larkspur" not in output and "merger" not in output


def test_call_search_counts_what_it_pages(config_file: Path) -> None:
    store(config_file, RECORDS)

    async def counts() -> list[int]:
        database = Database.from_url(load_config(config_file).storage.url)
        search = CallSearch(database)
        try:
            return [
                await search.count(CallFilter()),
                await search.count(CallFilter(data_class="pii.*", team="sales")),
                await search.count(CallFilter(since=T0 + 3600 * 5)),
            ]
        finally:
            await database.close()

    assert asyncio.run(counts()) == [7, 2, 2]
