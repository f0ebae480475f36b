"""The collector's exceptions: one base class, specific subclasses named for the failure."""

from __future__ import annotations


class CollectorError(Exception):
    """Base class of every error the collector raises on purpose."""


class ConfigError(CollectorError):
    """A setting is missing or has a value the collector cannot use."""


class DecodeError(CollectorError):
    """An OTLP request body could not be decoded; the message says what was wrong."""


class PayloadTooLarge(CollectorError):
    """A request body (compressed or not) exceeds the configured maximum size."""


class SpoolFull(CollectorError):
    """The on-disk spool holds more unwritten bytes than its limit; the client should retry."""


class StoreUnavailable(CollectorError):
    """The span store cannot be opened or written right now."""


class PriceFileError(CollectorError):
    """The YAML price file is missing, unreadable or has an invalid entry."""


class UnsupportedMediaType(DecodeError):
    """The request's Content-Type is neither OTLP protobuf nor OTLP JSON."""


class BatchRejected(CollectorError):
    """The store refused a batch's data (not a connectivity problem); retried, then quarantined."""
