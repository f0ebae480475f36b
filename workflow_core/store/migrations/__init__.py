"""Alembic migrations of the run store (script location ``workflow_core.store:migrations``)."""
