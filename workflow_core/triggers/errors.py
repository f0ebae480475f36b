"""Errors of the trigger service."""

from __future__ import annotations

from workflow_core.errors import FlowscopeError


class TriggerError(FlowscopeError):
    """Base class of the trigger service's errors."""


class TriggerConfigError(TriggerError):
    """The triggers config file is wrong (named file, trigger and field)."""


class SignatureError(TriggerError):
    """A webhook delivery is not signed with the trigger's secret, or too old (HTTP 401)."""


class PayloadError(TriggerError):
    """A webhook delivery cannot be mapped to the workflow's inputs (HTTP 400).

    ``path`` is the failing place, e.g. ``body:/customer/email`` or ``query:priority``.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class CallbackError(TriggerError):
    """The callback URL did not accept the result after all attempts."""
