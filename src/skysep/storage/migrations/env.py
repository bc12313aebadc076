"""Alembic environment: SkySep runs migrations on a connection it opened itself."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from skysep.storage._schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line, with sqlalchemy.url set in its config
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
