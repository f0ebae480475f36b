"""Exceptions of the run store; all derive from :class:`workflow_core.errors.FlowscopeError`."""

from __future__ import annotations

from workflow_core.errors import FlowscopeError


class StoreError(FlowscopeError):
    """The run store could not do what was asked (bad URL, unreachable database, failed write)."""


class StoreConfigError(StoreError):
    """A store setting is invalid (``FLOWSCOPE_DATABASE_URL``, a redaction pattern, a size cap)."""


class MigrationError(StoreError):
    """The database schema is not at the revision this code expects, or a migration failed."""


class NotFoundError(StoreError):
    """A run, event or conversation asked for by id does not exist."""
