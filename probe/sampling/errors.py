"""Errors of the sampling package."""

from __future__ import annotations


class SamplingError(Exception):
    """Base class of every error the sampling package raises on purpose."""


class PolicyError(SamplingError, ValueError):
    """A sampling policy file is unreadable or invalid; the message names file, rule path, value."""
