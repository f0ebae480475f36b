"""The run store: every workflow run, node execution, DSL version, prompt version, conversation
and trigger event, in SQLite (default), PostgreSQL or MySQL/MariaDB through SQLAlchemy.

Modules: ``base`` (the seam), ``sql_store`` (``SqlRunStore``, the writer), ``versions`` (DSL
and prompt versions), ``conversations`` (chat state documents), ``queries`` (``RunHistory``,
the read side), ``triggers`` (``TriggerEventQueue``), ``migrate`` (Alembic), ``portable`` (the
dialect-neutral SQL helpers), ``redaction`` / ``payload`` (what is stored), ``database`` /
``settings`` (URL, engine, configuration).
This package imports nothing heavy itself (SQLAlchemy is the optional ``store`` extra).
See docs/run_store.md.
"""
