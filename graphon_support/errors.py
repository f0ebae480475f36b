"""Errors of the graphon-side offline runtime."""

from __future__ import annotations


class GraphonSupportError(Exception):
    """Base class of graphon_support errors."""


class UnsupportedOnGraphon(GraphonSupportError):
    """The DSL file uses something graphon 0.8 cannot load (a node type, an app mode)."""
