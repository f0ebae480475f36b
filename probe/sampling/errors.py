"""Errors of the sampling package, under the probe's base exception."""

from __future__ import annotations

from probe.errors import ProbeError


class SamplingError(ProbeError):
    """Base class of every error the sampling package raises on purpose."""


class PolicyError(SamplingError, ValueError):
    """A sampling policy file is unreadable or invalid; the message names file, rule path, value."""
