"""The dashboard's exceptions: one base, specific subclasses that say what to do."""

from __future__ import annotations


class DashboardError(Exception):
    """Base class of every error the dashboard raises on purpose."""


class ConfigError(DashboardError):
    """A setting has a value the dashboard cannot use."""


class CollectorUnreachable(DashboardError):
    """The collector's read API did not answer (not started, wrong URL, network)."""


class CollectorResponseError(DashboardError):
    """The collector answered with an error status or a body that breaks the read-API contract."""
