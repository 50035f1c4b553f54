"""``bastion report``: the evidence report from an embedded store holding chained call
records, settled spend with a budget, a policy version and exceptions."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.audit import location
from bastion.audit.checkpoints import Signer
from bastion.audit.log import AuditLog
from bastion.cli.main import cli
from bastion.config.loader import load_config
from bastion.crypto.location import open_keyring
from bastion.model import CallRecord, CallStatus, FindingSummary, Principal, Usage
from bastion.model.spend import PICO_USD, SpendEntry
from bastion.storage import Database, SpendLedgerRepository
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.exceptions import ExceptionRepository
from bastion.storage.policies import PolicyRepository

EVIL = "<script>alert(1)</script>"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
DAY0 = TODAY - timedelta(days=3)
FROM, TO = DAY0.date().isoformat(), (TODAY + timedelta(days=1)).date().isoformat()
CONFIG = """\
storage: {url: "sqlite:///data/bastion.db"}
limits:
  rules:
    - {name: teams, scope: [team], budgets: [{period: month, usd: 100}]}
"""
POLICY = "version: 1\nname: enterprise\nrules: []\n"

SHOP = Principal(
    key_id="k_shop", name="shop", user="ana", app="shop", team="fin", environment="prod",
    owner="alice",
)  # fmt: skip
EVIL_APP = Principal(
    key_id="k_evil", name="evil", user="bo", app=EVIL, team=EVIL, environment="dev", owner=EVIL
)


def call(
    hour: int,
    principal: Principal,
    decision: str = "allow",
    *,
    found: tuple[tuple[str, str], ...] = (),
    rules: tuple[str, ...] = (),
    facts: dict[str, object] | None = None,
) -> CallRecord:
    refused = decision in ("block", "require_exception")
    return CallRecord(
        request_id=f"req_{hour:03d}",
        started_at=DAY0.timestamp() + hour * 3600,
        endpoint="chat.completions",
        principal=principal,
        model_requested="gpt-4o-mini",
        model_used="gpt-4o-mini",
        decision=decision,
        status=CallStatus.BLOCKED if refused else CallStatus.COMPLETED,
        http_status=403 if refused else 200,
        usage=Usage(prompt_tokens=100, completion_tokens=10),
        findings=tuple(FindingSummary(c, s, "messages.0.content", 1) for c, s in found),
        rules=rules,
        request_facts=facts or {},
    )


RECORDS = [
    call(0, SHOP),
    call(1, SHOP, "redact", found=(("pii.email", "user"),), rules=("pii.redact",)),
    call(2, SHOP, "block", found=(("secret.aws_access_key", "user"),), rules=("secrets.block",)),
    call(3, SHOP, rules=("secrets.block",), facts={"exception_applied": "exc_granted"}),
    call(4, SHOP, found=(("injection.direct", "user"),)),
    call(49, EVIL_APP),
    call(50, EVIL_APP, "block", found=(("injection.indirect", "retrieved"),),
         rules=("injection.block",)),
    call(51, EVIL_APP, "redact", found=(("pii.email", "user"),), rules=("pii.redact",)),
]  # fmt: skip
"""Day 0: five prod calls (one blocked, one redacted); day 2: three dev calls (same)."""


def spend(team: str, app: str, user: str, cost_usd: float) -> SpendEntry:
    return SpendEntry(
        settled_at=time.time() - 1,
        key_id=f"k_{app}",
        user=user,
        app=app,
        team=team,
        environment="prod",
        model="gpt-4o-mini",
        prompt_tokens=1000,
        completion_tokens=200,
        cost_pusd=round(cost_usd * PICO_USD),
    )


SPEND = [
    spend("fin", "shop", "ana", 40),
    spend("fin", "shop", "cy", 25),
    spend("fin", "ledger", "ana", 20),
    spend(EVIL, EVIL, "bo", 5),
]


async def _populate(config_file: Path) -> None:
    config = load_config(config_file)
    database = Database.from_url(config.storage.url)
    await database.migrate()
    log = AuditLog(
        AuditEventRepository(database),
        location.wal_dir(config),
        signer=Signer(open_keyring(config).active("signing")),
        checkpoint_file=location.checkpoint_file(config),
    )
    await log.start()
    for record in RECORDS:
        await log.intent(record)
        log.submit(record)
    await log.close()
    await SpendLedgerRepository(database).insert_many(SPEND)
    await PolicyRepository(database).upload_and_activate(
        POLICY, name="enterprise", label="v1", source=None, by="sec-lead"
    )
    exceptions = ExceptionRepository(database)
    lapsed = await exceptions.request(
        rule="secrets.block", scope={"app": "shop"}, justification="migration",
        expires_at=DAY0 + timedelta(days=1), requester="alice", now=DAY0,
    )  # fmt: skip
    await exceptions.approve(lapsed.id, approver="sec-lead", now=DAY0 + timedelta(hours=1))
    current = await exceptions.request(
        rule="pii.redact", scope={"app": EVIL}, justification="support desk",
        expires_at=datetime.now(UTC) + timedelta(days=30), requester=EVIL,
    )  # fmt: skip
    await exceptions.approve(current.id, approver="sec-lead")
    await database.close()


@pytest.fixture
def populated(tmp_path: Path) -> Path:
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    asyncio.run(_populate(config_file))
    return config_file


def run(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["report", "--config", str(config_file), *args])


class Page(HTMLParser):
    """Text per section id, the SVGs of each section and the bars' tooltips."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.text: dict[str, str] = {}
        self.svgs: dict[str, int] = {}
        self.bars: dict[str, list[str]] = {}
        self.tags: list[str] = []
        self._in_bar = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if tag in ("section", "header"):
            self.section = found.get("id")
        elif tag == "svg" and self.section:
            self.svgs[self.section] = self.svgs.get(self.section, 0) + 1
        elif tag == "rect" and found.get("class") == "bar" and self.section:
            self.bars.setdefault(self.section, []).append("")
            self._in_bar = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "rect":
            self._in_bar = False

    def handle_data(self, data: str) -> None:
        if self.section is None:
            return
        if self._in_bar:
            self.bars[self.section][-1] += data
        else:
            self.text[self.section] = self.text.get(self.section, "") + data + " "


def page_of(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture
def page(populated: Path, tmp_path: Path) -> Page:
    out = tmp_path / "report.html"
    result = run(populated, "--from", FROM, "--to", TO, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (8 calls)" in result.output
    return page_of(out)


def squash(text: str) -> str:
    return " ".join(text.split())


def test_header_gives_the_period_the_policy_in_force_and_a_passing_chain(page: Page) -> None:
    header = squash(page.text["summary"])
    assert f"Period {FROM} 00:00 UTC to {TO} 00:00 UTC" in header
    assert re.search(r"Policy versions in force enterprise@v1\+[0-9a-f]{12}", header)
    assert "Audit chain PASS" in header and "Calls 8" in header


def test_calls_by_environment_chart_has_a_bar_per_day_and_environment(page: Page) -> None:
    text = squash(page.text["calls"])
    assert "Calls per day (UTC)" in text
    assert "prod 5 1 1" in text and "dev 3 1 1" in text  # calls, blocked, redacted
    day0, day2 = DAY0.date().isoformat(), (DAY0 + timedelta(days=2)).date().isoformat()
    assert page.bars["calls"] == [f"{day0} prod: 5", f"{day2} dev: 3"]
    assert page.svgs["calls"] == 1


def test_blocked_and_redacted_totals_and_decision_bars(page: Page) -> None:
    text = squash(page.text["refusals"])
    assert (
        "2 calls refused (block or exception required), 2 forwarded with text redacted, of 8"
        in text
    )
    assert page.bars["refusals"] == ["allow: 4", "block: 2", "redact: 2"]


def test_injections_by_class_and_source(page: Page) -> None:
    assert page.bars["injections"] == [
        "injection.direct in user: 1 in 1 calls",
        "injection.indirect in retrieved: 1 in 1 calls",
    ]


def test_exception_uses_by_owner_and_exceptions_granted_and_expired(page: Page) -> None:
    assert page.bars["exception_uses"] == ["alice: 1 call, 1 exception"]
    text = squash(page.text["exceptions"])
    assert "2 granted, 1 expired, 0 revoked" in text
    assert text.count("secrets.block") == 2 and "pii.redact" in text


def test_adoption_spend_against_budget_and_top_rules(page: Page) -> None:
    assert page.bars["adoption"] == ["fin: 3 calls", f"{EVIL}: 1 calls"]
    assert "fin 3 2 2 3,600 85.0000" in squash(page.text["adoption"])  # calls apps users
    assert page.bars["budgets"] == [
        "teams team=fin: 85.0% of $100.00",
        f"teams team={EVIL}: 5.0% of $100.00",
    ]
    assert page.bars["rules"] == [
        "pii.redact: 2 calls (0 refused)",
        "secrets.block: 2 calls (1 refused)",
        "injection.block: 1 calls (1 refused)",
    ]


def test_every_section_names_the_controls_it_evidences(page: Page) -> None:
    expected = {
        "injections": "OWASP LLM01:2025 Prompt Injection",
        "refusals": "OWASP LLM02:2025 Sensitive Information Disclosure",
        "budgets": "OWASP LLM10:2025 Unbounded Consumption",
        "chain": "EU AI Act Art. 12(1)",
        "calls": "ISO/IEC 42001 9.1",
    }
    for section, control in expected.items():
        assert control in page.text[section]
    sections = [s for s in page.text if s != "summary"]
    assert len(sections) == 10
    assert all("Evidences:" in page.text[s] for s in sections)


def test_names_from_the_data_render_as_text_not_markup(populated: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run(populated, "--from", FROM, "--to", TO, "--out", str(out)).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = page_of(out)
    assert "script" not in page.tags and EVIL in page.text["adoption"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # self-contained


def test_a_modified_record_fails_the_chain_in_the_report_and_exits_1(
    populated: Path, tmp_path: Path
) -> None:
    db = sqlite3.connect(populated.parent / "data" / "bastion.db")
    db.execute("UPDATE call_records SET decision = 'allow' WHERE request_id = 'req_002'")
    db.commit()
    db.close()
    out = tmp_path / "report.html"
    result = run(populated, "--from", FROM, "--to", TO, "--out", str(out))
    assert result.exit_code == 1
    assert "audit chain does NOT verify" in result.output and "req_002" in result.output
    header = squash(page_of(out).text["summary"])
    assert "Audit chain FAIL" in header and "request req_002" in header and "decision" in header


def test_json_prints_the_data_with_the_controls(populated: Path) -> None:
    result = run(populated, "--from", FROM, "--to", TO, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["total_calls"] == 8 and data["decisions"] == {"allow": 4, "block": 2, "redact": 2}
    assert data["chain"]["ok"] and data["chain"]["checkpoints"] >= 1
    assert [e["environment"] for e in data["environments"]] == ["prod", "dev"]
    assert data["from"] == f"{FROM}T00:00:00+00:00"
    assert "OWASP LLM01:2025 Prompt Injection" in data["controls"]["injections"]


def test_an_empty_store_still_renders_every_section(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    result = run(config_file, "--out", str(out))
    assert result.exit_code == 0, result.output
    page = page_of(out)
    assert "Calls 0" in squash(page.text["summary"])
    assert "No injection detected." in page.text["injections"]
    assert len(page.bars.get("calls", [])) == 0 and page.svgs["calls"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "yesterday"), "not an ISO-8601 date"),
        (("--to", "2026-13-01"), "not an ISO-8601 date"),
        (("--from", "2026-11-02", "--to", "2026-11-01"), "must be before --to"),
    ],
)
def test_bad_dates_are_usage_errors(config_file: Path, args: tuple[str, ...], message: str) -> None:
    result = run(config_file, *args)
    assert result.exit_code == 2 and message in result.output


def test_auditors_may_run_the_report_app_owners_may_not(populated: Path, tmp_path: Path) -> None:
    """The report shows organisation-wide figures: only record readers may see them."""

    def token(role: str) -> str:
        args = ["admin-token", "create", "--role", role, "--subject", "eve", "--json"]
        created = CliRunner().invoke(cli, [*args, "--config", str(populated)])
        assert created.exit_code == 0, created.output
        return str(json.loads(created.stdout)["token"])

    out = tmp_path / "r.html"
    args = ["report", "--config", str(populated), "--out", str(out)]
    owner = CliRunner().invoke(cli, args, env={"BASTION_ADMIN_TOKEN": token("app_owner")})
    assert owner.exit_code == 1 and "read call records" in owner.output
    assert not out.exists()
    auditor = CliRunner().invoke(cli, args, env={"BASTION_ADMIN_TOKEN": token("auditor")})
    assert auditor.exit_code == 0 and out.exists()
