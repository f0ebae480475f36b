"""Alembic environment of the run store.

Run through :mod:`workflow_core.store.migrate` (``flowscope db ...``), which hands over an open
connection in ``config.attributes["connection"]``; offline mode (``--sql``) renders the SQL for
the URL in ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context

from workflow_core.store.migrate import compare_type
from workflow_core.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=compare_type,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=compare_type,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
