"""Batch inserts on PostgreSQL as multi-row statements, not one statement per row.

asyncpg's ``executemany`` sends the rows in one round trip but runs the statement once
per row, so every row pays a statement's fixed costs and fires statement triggers of
its own. One ``INSERT ... VALUES (...), (...), ...`` pays them once per batch: measured
on loopback, 40 call records per transaction cost 52-64 µs per record as one statement
with the rollups' statement triggers (migration 0012), against 144-206 µs per record as
a statement each with 0009's row trigger (and 55-100 µs without any trigger).

A batch is cut into runs of powers of two rows (at most ``MAX_ROWS``), so that a few
statement texts serve every batch size: asyncpg prepares and caches each text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql

from bastion.storage.tables import Base

MAX_ROWS = 256
"""Rows per statement at most (256 x 31 columns stays far below PostgreSQL's 32,767
parameters per statement)."""
_DIALECT = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def statements(
    table: type[Base],
    order: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    conflict: tuple[str, ...] = (),
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """``(sql, parameters)`` inserting ``rows`` (values in ``order``) into ``table``'s, a few
    statements per batch; with ``conflict``, a row whose key is taken is skipped."""
    done = 0
    while done < len(rows):
        size = min(MAX_ROWS, 1 << ((len(rows) - done).bit_length() - 1))
        part = rows[done : done + size]
        done += size
        yield _insert(table, order, size, conflict), tuple(chain.from_iterable(part))


@cache
def _insert(
    table: type[Base], order: tuple[str, ...], count: int, conflict: tuple[str, ...]
) -> str:
    values: list[dict[str, Any]] = [
        {name: bindparam(f"r{row}_{name}") for name in order} for row in range(count)
    ]
    statement = postgresql.insert(table).values(values)
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
    compiled = statement.compile(dialect=_DIALECT)
    expected = tuple(f"r{row}_{name}" for row in range(count) for name in order)
    if tuple(compiled.positiontup or ()) != expected:  # the rows would be misread
        raise AssertionError(f"multi-row INSERT into {table.__tablename__}: parameter order")
    return str(compiled)
