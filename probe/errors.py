"""Exceptions of the probe.

The probe lives inside someone else's process: these are raised only where the probe owns the
flow (the launcher's command line, explicit settings passed to :func:`probe.instrument`). Inside
wrappers every failure is caught and reported through :mod:`probe.guard` instead.
"""

from __future__ import annotations


class ProbeError(Exception):
    """Base class of every error the probe raises on purpose."""


class SettingsError(ProbeError):
    """A probe setting (argument or environment variable) has an invalid value."""

    def __init__(self, name: str, expected: str, value: object) -> None:
        super().__init__(f"{name}: expected {expected}, got {value!r}")
        self.name = name


class TargetError(ProbeError):
    """A target definition is malformed (bad dotted name, unknown span kind)."""
