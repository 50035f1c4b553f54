"""``bastion budgets`` and ``bastion usage`` through click, against spend ledger rows in
an embedded SQLite store."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from bastion.cli.main import cli
from bastion.config.loader import load_config
from bastion.limits.periods import period_at
from bastion.model.spend import PICO_USD, SpendEntry
from bastion.storage import Database, SpendLedgerRepository

ZONE = "Europe/Berlin"
CONFIG = f"""\
storage: {{url: "sqlite:///data/bastion.db"}}
limits:
  timezone: {ZONE}
  rules:
    - {{name: teams, scope: [team], budgets: [{{period: month, usd: 100}}]}}
    - {{name: apps, scope: [app], budgets: [{{period: day, tokens: 10000, soft: null}}]}}
"""


def run(config_file: Path, *args: str, token: str | None = None) -> Result:
    env = {"BASTION_ADMIN_TOKEN": token} if token else None
    return CliRunner().invoke(cli, [*args, "--config", str(config_file)], env=env)


def run_json(config_file: Path, *args: str, token: str | None = None) -> Any:
    result = run(config_file, *args, "--json", token=token)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def spend(at: float, team: str, app: str, cost_usd: float, **fields: Any) -> SpendEntry:
    values: dict[str, Any] = {
        "settled_at": at,
        "key_id": "k1",
        "user": None,
        "app": app,
        "team": team,
        "environment": "prod",
        "model": "gpt-4o-mini",
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "cost_pusd": round(cost_usd * PICO_USD),
    }
    values.update(fields)
    return SpendEntry(**values)


def write_ledger(config_file: Path, entries: list[SpendEntry]) -> None:
    async def write() -> None:
        database = Database.from_url(load_config(config_file).storage.url)
        try:
            await database.migrate()
            await SpendLedgerRepository(database).insert_many(entries)
        finally:
            await database.close()

    asyncio.run(write())


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A config with a USD budget per team and a token budget per app, and spend: finance
    at 80 % of its budget, support at 10 %, and a call of last month."""
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    now = time.time()
    last_month = period_at("month", now, ZoneInfo(ZONE)).start - 3600
    write_ledger(
        config_file,
        [
            spend(now, "finance", "ledger", 50.0),
            spend(now, "finance", "ledger", 30.0, environment="dev", key_id="k2"),
            spend(now, "support", "helpdesk", 10.0, prompt_tokens=300, completion_tokens=100),
            spend(last_month, "finance", "ledger", 500.0),
        ],
    )
    return config_file


def test_budgets_table_shows_a_team_at_80_percent_with_its_soft_threshold_reached(
    ledger: Path,
) -> None:
    result = run(ledger, "budgets")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "RULE", "SCOPE", "WINDOW", "START", "RESETS", "LIMIT", "SPENT", "LEFT", "USED", "SOFT",
    ]  # fmt: skip
    finance = next(line for line in lines if "team=finance" in line)
    assert finance.split()[-6:] == ["100.00", "80.00", "20.00", "80.0%", "80%", "reached"]
    support = next(line for line in lines if "team=support" in line)
    assert support.split()[-5:] == ["100.00", "10.00", "90.00", "10.0%", "80%"]
    helpdesk = next(line for line in lines if "app=helpdesk" in line)
    assert helpdesk.split()[-5:] == ["10,000", "400", "9,600", "4.0%", "-"]
    # Aligned columns: every row's USED value starts under the header.
    assert finance.index("80.0%") == helpdesk.index("4.0%") == lines[0].index("USED")


def test_budgets_table_shows_usd_to_the_cent_and_spend_below_a_cent_as_not_nothing(
    tmp_path: Path,
) -> None:
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    now = time.time()
    write_ledger(
        config_file,
        [
            spend(now, "research", "notebook", 0.004),
            spend(now, "sales", "crm", 1234.565),
            spend(now, "legal", "contracts", 12.345),
        ],
    )
    lines = run(config_file, "budgets").output.splitlines()
    research = next(line for line in lines if "team=research" in line)
    assert research.split()[-5:] == ["100.00", "<0.01", "99.99", "<0.1%", "80%"]
    sales = next(line for line in lines if "team=sales" in line)
    assert sales.split()[-6:] == ["100.00", "1,234.57", "0.00", "1234.6%", "80%", "reached"]
    legal = next(line for line in lines if "team=legal" in line)  # left 87.655: rounded down
    assert legal.split()[-5:] == ["100.00", "12.35", "87.65", "12.3%", "80%"]
    shown = {b["scope"].get("team"): b for b in run_json(config_file, "budgets")["budgets"]}
    assert (shown["research"]["spent"], shown["research"]["remaining"]) == (0.004, 99.996)
    assert shown["sales"]["spent"] == 1234.565


def test_budgets_json_gives_period_limit_spent_remaining_and_percent(ledger: Path) -> None:
    shown = run_json(ledger, "budgets")
    assert shown["timezone"] == ZONE
    budgets = {(b["rule"], json.dumps(b["scope"])): b for b in shown["budgets"]}
    assert set(budgets) == {
        ("teams", '{"team": "finance"}'),
        ("teams", '{"team": "support"}'),
        ("apps", '{"app": "ledger"}'),
        ("apps", '{"app": "helpdesk"}'),
    }
    finance = budgets[("teams", '{"team": "finance"}')]
    assert (finance["measure"], finance["limit"], finance["spent"]) == ("usd", 100, 80)
    assert (finance["remaining"], finance["percent"]) == (20, 80)
    assert finance["soft_reached"] is True and finance["exceeded"] is False
    month = period_at("month", time.time(), ZoneInfo(ZONE))
    assert finance["period"] == month.id
    start = datetime.fromisoformat(finance["start"])
    assert start.timestamp() == month.start and start.utcoffset() is not None
    assert (start.hour, start.minute, start.day) == (0, 0, 1)  # local midnight in Berlin
    assert datetime.fromisoformat(finance["resets_at"]).timestamp() == month.end
    support = budgets[("teams", '{"team": "support"}')]
    assert (support["percent"], support["soft_reached"]) == (10, False)
    ledger_app = budgets[("apps", '{"app": "ledger"}')]
    assert (ledger_app["measure"], ledger_app["spent"], ledger_app["remaining"]) == (
        "tokens",
        2400,
        7600,
    )
    assert ledger_app["soft"] is None and ledger_app["soft_reached"] is False
    assert all(type(ledger_app[k]) is int for k in ("limit", "spent", "remaining"))


def test_budgets_json_remaining_is_the_amount_left_not_float_noise(tmp_path: Path) -> None:
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    write_ledger(config_file, [spend(time.time(), "finance", "ledger", 80.1)])
    shown = run_json(config_file, "budgets", "--scope", "team=finance")
    (finance,) = shown["budgets"]
    assert (finance["spent"], finance["remaining"]) == (80.1, 19.9)


def test_budgets_scope_filter_and_its_usage_error(ledger: Path) -> None:
    shown = run_json(ledger, "budgets", "--scope", "team=support")
    assert [b["scope"] for b in shown["budgets"]] == [{"team": "support"}]
    bad = run(ledger, "budgets", "--scope", "teams")
    assert bad.exit_code == 2 and "FIELD=VALUE" in bad.output
    assert "Traceback" not in bad.output


def test_budgets_without_rules_or_spend_say_so(config_file: Path, tmp_path: Path) -> None:
    result = run(config_file, "budgets")
    assert result.exit_code == 0 and "No budgets configured" in result.output
    configured = tmp_path / "configured.yaml"
    configured.write_text(CONFIG, encoding="utf-8")
    result = run(configured, "budgets")
    assert result.exit_code == 0 and "No spend yet against the 2 configured" in result.output
    assert run_json(configured, "budgets")["budgets"] == []


def test_an_auditor_reads_budgets_and_an_app_owner_only_its_own(ledger: Path) -> None:
    create = ("admin-token", "create", "--role")
    tokens = {
        role: run_json(ledger, *create, role, "--subject", subject)["token"]
        for role, subject in (("auditor", "aud"), ("app_owner", "ledger-team"))
    }
    assert len(run_json(ledger, "budgets", token=tokens["auditor"])["budgets"]) == 4
    run_json(ledger, "keys", "create", "--name", "x", "--app", "ledger", "--owner", "ledger-team")
    owned = run_json(ledger, "budgets", token=tokens["app_owner"])["budgets"]
    assert [b["scope"] for b in owned] == [{"app": "ledger"}]
    usage = run_json(ledger, "usage", "--by", "app", token=tokens["app_owner"])
    assert [g["group"] for g in usage["groups"]] == [{"app": "ledger"}]
    bad = run(ledger, "budgets", token="bat_nothing_wrong")
    assert bad.exit_code == 1 and "Invalid admin token" in bad.output


def test_usage_by_team_sums_this_months_rows(ledger: Path) -> None:
    report = run_json(ledger, "usage", "--by", "team")
    assert report["group_by"] == ["team"] and report["timezone"] == ZONE
    groups = {g["group"]["team"]: g for g in report["groups"]}
    assert groups["finance"] == {
        "group": {"team": "finance"},
        "calls": 2,
        "prompt_tokens": 2000,
        "completion_tokens": 400,
        "tokens": 2400,
        "cost_usd": 80.0,
    }
    assert (groups["support"]["calls"], groups["support"]["cost_usd"]) == (1, 10.0)
    assert report["total"]["calls"] == 3 and report["total"]["cost_usd"] == 90.0
    month = period_at("month", time.time(), ZoneInfo(ZONE))
    assert datetime.fromisoformat(report["from"]).timestamp() == month.start
    assert datetime.fromisoformat(report["to"]).timestamp() == month.end


def test_usage_table_groups_by_a_combination_over_a_given_range(ledger: Path) -> None:
    since = datetime.fromtimestamp(time.time() - 40 * 86400, ZoneInfo(ZONE)).date()
    result = run(ledger, "usage", "--by", "team,env", "--from", since.isoformat())
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headers = ["TEAM", "ENV", "CALLS", "PROMPT", "COMPLETION", "TOKENS", "COST_USD"]
    assert lines[0].split() == headers
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lines[1:-2]}
    assert rows[("finance", "prod")] == ["2", "2,000", "400", "2,400", "550.00"]
    assert rows[("finance", "dev")] == ["1", "1,000", "200", "1,200", "30.00"]
    assert lines[-2].split() == ["TOTAL", "4", "3,300", "700", "4,000", "590.00"]


def test_usage_table_shows_cost_to_the_cent_as_budgets_does_and_json_stays_exact(
    tmp_path: Path,
) -> None:
    # 0.000123 USD read as six digits nobody compares with `bastion budgets`' cents
    config_file = tmp_path / "bastion.yaml"
    config_file.write_text(CONFIG, encoding="utf-8")
    now = time.time()
    write_ledger(
        config_file,
        [
            spend(now, "research", "notebook", 0.000123),
            spend(now, "sales", "crm", 1234.565),
            spend(now, "legal", "contracts", 0.004),
            spend(now, "legal", "contracts", 0.003),
        ],
    )
    result = run(config_file, "usage", "--by", "team")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    costs = {line.split()[0]: line.split()[-1] for line in lines[1:-1]}
    assert costs == {
        "sales": "1,234.57",
        "legal": "<0.01",
        "research": "<0.01",
        "TOTAL": "1,234.57",
    }
    assert lines[0].split()[-1] == "COST_USD"
    assert lines[0].index("COST_USD") == lines[1].index("1,234.57")
    shown = run_json(config_file, "usage", "--by", "team")
    exact = {g["group"]["team"]: g["cost_usd"] for g in shown["groups"]}
    assert exact == {"sales": 1234.565, "legal": 0.007, "research": 0.000123}
    assert shown["total"]["cost_usd"] == 1234.572123


def test_usage_table_shows_end_user_ids_without_their_control_characters(ledger: Path) -> None:
    # an end user behind a trust_end_user key chooses its id: a newline forged a row of
    # the admin's table, and an OSC 52 sequence would set the admin's clipboard
    forged = "mallory\nTOTAL  0  0  0  0  0.0\x1b]52;c;cm0gLXJmIH4=\x07"
    write_ledger(ledger, [spend(time.time(), "finance", "ledger", 1.0, user=forged)])
    result = run(ledger, "usage", "--by", "user")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["-", "mallory?TOTAL", "TOTAL"]
    assert run_json(ledger, "usage", "--by", "user")["groups"][1]["group"]["user"] == forged


def test_usage_by_key_and_model(ledger: Path) -> None:
    by_key = run_json(ledger, "usage", "--by", "key")
    assert {g["group"]["key_id"]: g["calls"] for g in by_key["groups"]} == {"k1": 2, "k2": 1}
    by_model = run_json(ledger, "usage", "--by", "model", "--by", "environment")
    assert by_model["group_by"] == ["model", "environment"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--by", "department"], "cannot group by 'department'", id="bad-by"),
        pytest.param(["--from", "last tuesday"], "is not an ISO-8601 date", id="bad-from"),
        pytest.param(["--from", "2026-11-30", "--to", "2026-11-01"], "not after", id="to-first"),
    ],
)
def test_usage_errors_exit_2_with_a_message(ledger: Path, args: list[str], message: str) -> None:
    result = run(ledger, "usage", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_usage_of_an_empty_range_says_so(ledger: Path) -> None:
    result = run(ledger, "usage", "--from", "2020-01-01", "--to", "2020-02-01")
    assert result.exit_code == 0 and "No settled calls from 2020-01-01T00:00+01:00" in result.output


def test_usage_without_limit_rules_says_no_spend_is_recorded(config_file: Path) -> None:
    """With no limits.rules the ledger stays empty however many calls were made, so an
    empty answer must not read as "nobody called"."""
    result = run(config_file, "usage")
    assert result.exit_code == 0
    assert "No spend is recorded: the config has no limits.rules" in result.output
