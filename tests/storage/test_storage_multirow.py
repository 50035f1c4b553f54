"""Multi-row INSERT statements on PostgreSQL: few statement texts, rows in order."""

from __future__ import annotations

from bastion.storage import multirow
from bastion.storage.tables import AuditEventRow

ORDER = ("writer_id", "seq", "kind", "request_id", "at", "body", "prev_hash", "hash")


def test_a_batch_is_cut_into_powers_of_two_with_its_values_in_row_order() -> None:
    rows = [(f"w{n}", n, "intent", f"req_{n}", 1.0, "{}", "p", "h") for n in range(300)]
    cut = list(multirow.statements(AuditEventRow, ORDER, rows))
    assert [len(values) // len(ORDER) for _, values in cut] == [256, 32, 8, 4]
    assert [value for _, values in cut for value in values] == [v for row in rows for v in row]
    for sql, values in cut:
        assert sql.count("), (") == len(values) // len(ORDER) - 1  # one VALUES tuple per row
    again = list(multirow.statements(AuditEventRow, ORDER, rows[:260]))
    assert again[0][0] is cut[0][0]  # one text per size, reused


def test_no_rows_no_statement() -> None:
    assert list(multirow.statements(AuditEventRow, ORDER, [])) == []
