"""Alembic environment: runs Bastion's migrations on a connection handed in by Database.

``Database.migrate()`` passes its (sync-adapted) connection through
``config.attributes["connection"]``; run standalone (``alembic -x url=...``) this file
opens an async engine itself, so the same scripts serve SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bastion.storage.database import normalise_url
from bastion.storage.tables import Base

target_metadata = Base.metadata


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    engine = create_async_engine(normalise_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def _standalone_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path.db upgrade head")
    return url


given: Connection | None = context.config.attributes.get("connection")
if given is not None:
    _run_on(given)
elif context.is_offline_mode():
    context.configure(url=str(normalise_url(_standalone_url())), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_standalone(_standalone_url()))
