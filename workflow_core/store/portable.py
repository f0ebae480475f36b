"""Portable SQL: the only place where SQLite, PostgreSQL and MySQL/MariaDB differ.

Application code builds queries from these helpers and plain SQLAlchemy constructs, never from
dialect SQL text:

- :class:`date_trunc` — truncate a timestamp to a minute / hour / day / week / month bucket
  (``date_trunc`` on PostgreSQL, ``DATE_FORMAT`` on MySQL, ``strftime`` on SQLite);
- :func:`json_text` / :func:`json_number` — a field of a JSON document, through SQLAlchemy's JSON
  operators (``->>`` / ``JSON_UNQUOTE(JSON_EXTRACT())`` / ``JSON_EXTRACT``);
- :func:`upsert` — insert-or-update on a unique key (``ON CONFLICT`` / ``ON DUPLICATE KEY``);
- :func:`keyset_page` — stable keyset pagination over a descending ``(timestamp, id)`` order.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    SQLColumnExpression,
    String,
    Table,
    and_,
    literal,
    or_,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from workflow_core.store.errors import StoreError
from workflow_core.store.types import UtcDateTime

T = TypeVar("T")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])

TRUNC_UNITS = ("minute", "hour", "day", "week", "month")

_MYSQL_FORMATS = {
    "minute": "%Y-%m-%d %H:%i:00",
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d 00:00:00",
    "month": "%Y-%m-01 00:00:00",
}
_SQLITE_FORMATS = {
    "minute": "%Y-%m-%d %H:%M:00",
    "hour": "%Y-%m-%d %H:00:00",
    "day": "%Y-%m-%d 00:00:00",
    "week": "%Y-%m-%d 00:00:00",
    "month": "%Y-%m-01 00:00:00",
}


class date_trunc(FunctionElement[datetime]):
    """``date_trunc(unit, timestamp)`` on every dialect; weeks start on Monday (ISO)."""

    type = UtcDateTime()
    name = "date_trunc"
    inherit_cache = True
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("unit", InternalTraversal.dp_string),
    ]

    def __init__(self, unit: str, expr: SQLColumnExpression[datetime]) -> None:
        if unit not in TRUNC_UNITS:
            raise StoreError(
                f"date_trunc: unit must be one of {', '.join(TRUNC_UNITS)}, got {unit!r}"
            )
        self.unit = unit
        super().__init__(expr)


def _trunc_arg(element: date_trunc, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


def _text_literal(value: str, compiler: SQLCompiler, **kw: Any) -> str:
    """A string constant rendered inline, escaped the way this dialect and driver need."""
    return compiler.process(literal(value, String()), **{**kw, "literal_binds": True})


@compiles(date_trunc, "postgresql")
def _date_trunc_postgresql(element: date_trunc, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date_trunc('{element.unit}', {_trunc_arg(element, compiler, **kw)})"


@compiles(date_trunc, "mysql")
@compiles(date_trunc, "mariadb")
def _date_trunc_mysql(element: date_trunc, compiler: SQLCompiler, **kw: Any) -> str:
    x = _trunc_arg(element, compiler, **kw)
    if element.unit == "week":
        return f"CAST(DATE_SUB(DATE({x}), INTERVAL WEEKDAY({x}) DAY) AS DATETIME(6))"
    fmt = _text_literal(_MYSQL_FORMATS[element.unit], compiler, **kw)
    return f"CAST(DATE_FORMAT({x}, {fmt}) AS DATETIME(6))"


@compiles(date_trunc, "sqlite")
def _date_trunc_sqlite(element: date_trunc, compiler: SQLCompiler, **kw: Any) -> str:
    x = _trunc_arg(element, compiler, **kw)
    fmt = _text_literal(_SQLITE_FORMATS[element.unit], compiler, **kw)
    if element.unit == "week":
        # 'weekday 0' moves forward to Sunday (or stays), '-6 days' lands on that week's Monday.
        return f"strftime({fmt}, {x}, 'weekday 0', '-6 days')"
    return f"strftime({fmt}, {x})"


@compiles(date_trunc)
def _date_trunc_other(element: date_trunc, compiler: SQLCompiler, **kw: Any) -> str:
    raise StoreError(f"date_trunc: dialect {compiler.dialect.name!r} is not supported")


def json_text(column: SQLColumnExpression[Any], *path: str | int) -> ColumnElement[str]:
    """The field at ``path`` of a JSON column as text (``NULL`` when absent)."""
    field: ColumnElement[str] = _json_at(column, path).as_string()
    return field


def json_number(column: SQLColumnExpression[Any], *path: str | int) -> ColumnElement[float]:
    """The field at ``path`` of a JSON column as a number (``NULL`` when absent)."""
    field: ColumnElement[float] = _json_at(column, path).as_float()
    return field


def _json_at(column: Any, path: Sequence[str | int]) -> Any:
    if not path:
        raise StoreError("json field: give at least one key or index")
    key: Any = path[0] if len(path) == 1 else tuple(path)
    return column[key]


def upsert(
    dialect_name: str,
    table: Table,
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    overwrite: Sequence[str] = (),
    increment: Mapping[str, int] = {},
) -> Insert:
    """``INSERT`` ``values``; on a clash of unique ``key`` update ``overwrite`` columns from the
    new row and add ``increment`` to counters; with neither, leave the existing row alone.

    MySQL resolves clashes on any unique key (``ON DUPLICATE KEY``), so ``key`` must be the only
    unique key the row can clash on — true for every table of the store.
    """
    updates: dict[str, Any]
    if dialect_name in ("postgresql", "sqlite"):
        dialect_mod: Any = postgresql if dialect_name == "postgresql" else sqlite
        stmt = dialect_mod.insert(table).values(dict(values))
        updates = {col: stmt.excluded[col] for col in overwrite}
        updates.update({col: table.c[col] + n for col, n in increment.items()})
        if not updates:
            return stmt.on_conflict_do_nothing(index_elements=list(key))  # type: ignore[no-any-return]
        return stmt.on_conflict_do_update(index_elements=list(key), set_=updates)  # type: ignore[no-any-return]
    if dialect_name in ("mysql", "mariadb"):
        my_stmt = mysql.insert(table).values(dict(values))
        updates = {col: my_stmt.inserted[col] for col in overwrite}
        updates.update({col: table.c[col] + n for col, n in increment.items()})
        if not updates:  # a no-op assignment: MySQL's portable "do nothing"
            updates = {key[0]: table.c[key[0]]}
        return my_stmt.on_duplicate_key_update(updates)
    raise StoreError(f"upsert: dialect {dialect_name!r} is not supported")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the cursor of the next one (``None`` on the last page)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(at: datetime, row_id: str | int) -> str:
    """An opaque cursor for the row ``(at, row_id)`` of a keyset-paginated listing."""
    raw = f"{at.isoformat()}|{type(row_id).__name__}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str | int]:
    """The ``(at, row_id)`` inside a cursor made by :func:`encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, kind, row_id = raw.split("|", 2)
        return datetime.fromisoformat(at), int(row_id) if kind == "int" else row_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise StoreError(f"cursor {cursor!r} is not a cursor this store handed out") from exc


def keyset_page(
    stmt: S,
    at_column: SQLColumnExpression[datetime],
    id_column: SQLColumnExpression[Any],
    *,
    limit: int,
    cursor: str | None = None,
    max_limit: int = 1000,
) -> S:
    """``stmt`` ordered newest first by ``(at, id)``, after ``cursor``, ``limit + 1`` rows.

    Fetching one row more than asked tells :func:`page_of` whether a next page exists. The
    row-value comparison is spelled out (``a < x OR a = x AND b < y``) so every dialect uses its
    index on ``at``.
    """
    if not 1 <= limit <= max_limit:
        raise StoreError(f"limit must be between 1 and {max_limit}, got {limit}")
    if cursor is not None:
        at, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(at_column < at, and_(at_column == at, id_column < row_id)),
        )
    return stmt.order_by(at_column.desc(), id_column.desc()).limit(limit + 1)


def page_of(rows: Sequence[T], limit: int, key: Any) -> Page[T]:
    """Cut the ``limit + 1`` rows of :func:`keyset_page` into a :class:`Page`.

    ``key(row)`` returns the row's ``(at, id)``.
    """
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return Page(items, None)
    at, row_id = key(items[-1])
    return Page(items, encode_cursor(at, row_id))


# Error codes of a transaction the database chose to abort and that is safe to run again.
_MYSQL_RETRYABLE = {1213, 1205}  # deadlock found, lock wait timeout
_POSTGRES_RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (a DBAPI error wrapped by SQLAlchemy) is a deadlock / lock timeout."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) in _POSTGRES_RETRYABLE:
        return True
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRYABLE:
        return True
    return "database is locked" in str(orig)
