"""Column types that behave the same on SQLite, PostgreSQL and MySQL/MariaDB.

- :class:`UtcDateTime` stores naive UTC with microseconds everywhere (MySQL's ``DATETIME`` drops
  fractions unless asked for ``fsp=6``) and hands back timezone-aware UTC datetimes.
- :data:`JsonDoc` is SQLAlchemy's portable ``JSON`` (``JSONB`` on PostgreSQL), so JSON access goes
  through SQLAlchemy's JSON operators instead of dialect functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC timestamp: aware datetimes in, aware UTC datetimes out, naive UTC at rest."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns strings from expressions (e.g. bucketing)
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonDoc = JSON().with_variant(postgresql.JSONB(), "postgresql")
"""A JSON document column (``JSONB`` on PostgreSQL, ``JSON`` elsewhere)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column expects)."""
    return datetime.now(UTC)
