"""The run store: every workflow run, node execution, DSL version, prompt version, conversation
and trigger event, in SQLite (default), PostgreSQL or MySQL/MariaDB through SQLAlchemy.

Modules: ``base`` (the seam), ``sql_store`` (``SqlRunStore``, the writer), ``queries``
(``RunHistory``, the read side), ``triggers`` (``TriggerEventQueue``), ``migrate`` (Alembic),
``portable`` (the dialect-neutral SQL helpers), ``redaction`` / ``payload`` (what is stored).
This package imports nothing heavy itself (SQLAlchemy is the optional ``store`` extra).
See docs/run_store.md.
"""
