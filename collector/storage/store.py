"""The span store: clickhouse-connect over embedded chDB (``chdb:///path``) or a server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from collector.errors import BatchRejected, ConfigError, StoreUnavailable
from collector.storage import schema

logger = logging.getLogger(__name__)


class SpanStore(Protocol):
    """What the spool writer and the read API need from a store."""

    def migrate(self) -> list[int]: ...

    def insert(
        self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]], token: str
    ) -> None: ...

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def close(self) -> None: ...


def server_client_kwargs(dsn: str) -> dict[str, Any]:
    """clickhouse-connect arguments for a ``clickhouse://user:pass@host:port/db`` DSN.

    User and password are percent-decoded, so a password holding ``:`` or ``@`` works when it
    is URL-encoded in the DSN (``p%40ss``).
    """
    parsed = urlparse(dsn)
    if parsed.scheme not in ("clickhouse", "http", "https"):
        raise ConfigError(
            f"store DSN scheme must be chdb, clickhouse, http or https: {_redact(dsn)!r}"
        )
    secure = parsed.scheme == "https"
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or (8443 if secure else 8123),
        "username": unquote(parsed.username) if parsed.username else "default",
        "password": unquote(parsed.password) if parsed.password else "",
        "database": unquote((parsed.path or "/").strip("/")) or "default",
        "secure": secure,
    }


def _connect(dsn: str) -> Any:
    import clickhouse_connect

    try:
        if dsn.startswith("chdb://"):
            return clickhouse_connect.get_client(dsn=dsn)
        return clickhouse_connect.get_client(**server_client_kwargs(dsn))
    except ConfigError:
        raise
    except Exception as exc:  # clickhouse-connect raises several types for "cannot open"
        raise StoreUnavailable(f"cannot open store {_redact(dsn)}: {exc}") from exc


def _redact(dsn: str) -> str:
    parsed = urlparse(dsn)
    if parsed.password:
        return dsn.replace(f":{parsed.password}@", ":***@")
    return dsn


class ClickHouseStore:
    """One clickhouse-connect client, serialised by a lock (chDB handles are not reentrant)."""

    def __init__(self, dsn: str, *, ttl_days: int = 0, cluster: str | None = None) -> None:
        self.dsn = dsn
        self.ttl_days = ttl_days
        self.cluster = cluster
        self._client = _connect(dsn)
        self._lock = threading.Lock()

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb://")

    def migrate(self) -> list[int]:
        """Apply pending migrations in order; returns the versions applied now."""
        with self._lock:
            self._client.command(schema.migrations_table_ddl(self.cluster))
            done = {
                row[0]
                for row in self._client.query(
                    f"SELECT Version FROM {schema.MIGRATIONS} FINAL"
                ).result_rows
            }
            applied: list[int] = []
            for migration in schema.migrations(ttl_days=self.ttl_days, cluster=self.cluster):
                if migration.version in done:
                    continue
                for statement in migration.statements:
                    self._client.command(statement)
                self._client.insert(
                    schema.MIGRATIONS,
                    [[migration.version, migration.description]],
                    column_names=["Version", "Description"],
                )
                applied.append(migration.version)
                logger.info(
                    "applied schema migration %d: %s", migration.version, migration.description
                )
            return applied

    def insert(
        self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]], token: str
    ) -> None:
        settings = {
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "insert_deduplicate": 1,
        }
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        try:
            with self._lock:
                self._client.insert(
                    table, data, column_names=list(columns), column_oriented=True, settings=settings
                )
        except OperationalError as exc:
            raise StoreUnavailable(f"insert into {table} failed: {exc}") from exc
        except DatabaseError as exc:
            raise BatchRejected(f"insert into {table} refused: {exc}") from exc
        except Exception as exc:
            raise StoreUnavailable(f"insert into {table} failed: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._lock:
            result = self._client.query(sql, parameters=params or {})
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._client.command(sql, parameters=params or {})

    def close(self) -> None:
        with self._lock:
            self._client.close()
