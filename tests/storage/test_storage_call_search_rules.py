"""The audit search by rule finds every call the rule acted on, on its request or on
its answer, on SQLite and PostgreSQL: the ``call_record_rules`` rows the triggers keep
follow inserts, replays, updates and deletes, and records stored before them count."""

# ruff: noqa: E501 -- one record per line

from __future__ import annotations

from sqlalchemy import Connection, text
from tests.storage.test_storage_call_search import FIN, SALES, record

from bastion.storage import CallRecordRepository, Database
from bastion.storage.call_search import CallFilter, CallSearch
from bastion.storage.database import MIGRATIONS_DIR

RECORDS = [
    record(0, FIN, "block", rules=("secrets.block",)),
    record(1, FIN, "allow", facts={"output_blocked": {"classes": {"secret.aws_access_key": 1}, "rules": ["answer.secrets"]}}),
    record(2, SALES, "allow", facts={"output_redacted": {"classes": {"pii.email": 2}, "rules": ["answer.mail", "answer.secrets"]}}),
    record(3, FIN, "redact", rules=("pii.redact",), facts={"output_redacted": {"classes": {"pii.email": 1}, "rules": ["pii.redact"]}}),
    record(4, SALES, "allow", facts={"tools_stripped": [{"tool": "shell", "rule": "tools.no_shell"}]}),
    record(5, FIN, "allow", facts={"tool_calls_refused": [{"tool": "shell", "rule": "tools.no_shell", "reason": "not offered"}, {"tool": "fetch", "rule": "tools.no_fetch", "reason": "x"}]}),
    record(6, FIN, "allow", facts={"shadow": {"decision": "block", "rules": ["secrets.block"]}}),
    record(7, SALES, "allow"),
]  # fmt: skip


async def found(database: Database, where: CallFilter, limit: int = 100) -> list[int]:
    page = await CallSearch(database).page(where, limit=limit)
    return [int(r.request_id.removeprefix("req_")) for r in page.records]


async def test_a_rule_finds_the_calls_it_acted_on_request_or_answer(database: Database) -> None:
    repository = CallRecordRepository(database)
    await repository.insert_many(RECORDS)
    await repository.insert_many(RECORDS[::2])  # a replayed spool: stored once
    expected = {
        "secrets.block": [0],  # a shadow rule that matched did not act (6)
        "answer.secrets": [2, 1],  # refused the answer; redacted it
        "answer.mail": [2],
        "pii.redact": [3],  # on the request and on the answer: listed once
        "tools.no_shell": [5, 4],  # a tool call refused; a tool removed
        "tools.no_fetch": [5],
        "nothing.here": [],
    }
    search = CallSearch(database)
    for rule, calls in expected.items():
        assert await found(database, CallFilter(rule=rule)) == calls, rule
        assert await search.count(CallFilter(rule=rule)) == len(calls), rule
    both = CallFilter(rule="answer.secrets", team="sales", since=1000.0, until=1000.0 + 3 * 60)
    assert await found(database, both) == [2]
    assert await search.count(both) == 1
    assert await found(database, CallFilter(rule="answer.secrets", until=1000.0 + 2 * 60)) == [1]


async def test_a_rules_calls_page_newest_first_without_gaps(database: Database) -> None:
    many = [
        record(n, FIN if n % 2 else SALES, facts={"output_blocked": {"rules": ["answer.secrets"]}})
        for n in range(25)
    ]
    await CallRecordRepository(database).insert_many([*many, *RECORDS[:1]])
    search = CallSearch(database)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await search.page(
            CallFilter(rule="answer.secrets", team="fin"), limit=4, after=after
        )
        seen += [r.request_id for r in page.records]
        after = page.after
        if after is None:
            break
    assert seen == [f"req_{n:03d}" for n in range(23, 0, -2)]


async def test_updated_and_deleted_records_move_with_their_rules(database: Database) -> None:
    await CallRecordRepository(database).insert_many(RECORDS)
    async with database.transaction("test edit") as session:
        await session.execute(text("DELETE FROM call_records WHERE request_id = 'req_005'"))
        facts = '{"output_blocked": {"rules": ["answer.late"]}}'
        await session.execute(
            text(
                "UPDATE call_records SET request_facts = :facts, started_at = 5000.0 WHERE request_id = 'req_007'"
            ),
            {"facts": facts},
        )
    assert await found(database, CallFilter(rule="tools.no_shell")) == [4]
    assert await found(database, CallFilter(rule="tools.no_fetch")) == []
    assert await found(database, CallFilter(rule="answer.late", since=4999.0)) == [7]
    async with database.transaction("test edit") as session:
        await session.execute(
            text("UPDATE call_records SET request_facts = '{}' WHERE request_id = 'req_002'")
        )
    assert await found(database, CallFilter(rule="answer.mail")) == []
    assert await found(database, CallFilter(rule="answer.secrets")) == [1]


async def test_records_stored_before_the_rule_rows_are_found(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade, "0012")  # before call_record_rules (0013)
    await CallRecordRepository(database).insert_many(RECORDS)
    await database.migrate()
    await CallRecordRepository(database).insert_many(
        [record(9, FIN, facts={"output_blocked": {"rules": ["answer.secrets"]}})]
    )
    assert await found(database, CallFilter(rule="answer.secrets")) == [9, 2, 1]
    assert await found(database, CallFilter(rule="tools.no_shell")) == [5, 4]
    assert await found(database, CallFilter(rule="secrets.block")) == [0]


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.downgrade(config, revision)
