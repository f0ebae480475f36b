"""The span store: clickhouse-connect over embedded chDB (``chdb:///path``) or a server."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

from collector.errors import BatchRejected, CollectorError, ConfigError, StoreUnavailable
from collector.otlp import sql_flatten
from collector.storage import schema

logger = logging.getLogger(__name__)

# What an LLM span costs, from the values of sql_flatten.PRICE_ATTRIBUTES: (usd, source).
PriceFn = Callable[[Sequence[str]], tuple[float, str]]


class SpanStore(Protocol):
    """What the spool writer and the read API need from a store."""

    def migrate(self) -> list[int]: ...

    def insert(
        self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]], token: str
    ) -> None: ...

    def insert_trace_requests(
        self, payloads: Sequence[bytes], token: str, price: PriceFn
    ) -> int | None: ...

    def prepare(self) -> None: ...

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
        self._batch_dir: Path | None = None  # the fast trace path's batch file and temp tables
        self._fast_traces = self.embedded  # False once ClickHouse could not set the path up

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
        with self._errors_mapped(table), self._lock:
            self._client.insert(
                table,
                data,
                column_names=list(columns),
                column_oriented=True,
                settings=_dedup_settings(token),
            )

    def insert_trace_requests(
        self, payloads: Sequence[bytes], token: str, price: PriceFn
    ) -> int | None:
        """Store serialized ``ExportTraceServiceRequest``s, flattened by ClickHouse itself.

        Embedded chDB only (``file()`` reads the batch from this process's disk): the requests
        go to a length-delimited file that ClickHouse's Protobuf format decodes into a staging
        table (:mod:`collector.otlp.sql_flatten`); ``price`` prices the LLM spans; one
        ``INSERT … SELECT`` with the deduplication ``token`` stores them. Returns the number of
        spans, or None, storing nothing, when the batch needs the Python flattener (a server
        store, or values SQL does not flatten exactly like Python).
        """
        if not self._fast_traces:
            return None
        with self._errors_mapped(schema.TRACES), self._lock:
            path = self._write_batch(payloads)
            client = self._client
            try:
                client.command(f"TRUNCATE TABLE {_STAGE}")
                client.command(self._stage_sql(path))
            finally:  # the batch files are not needed past decoding (nor left behind by a crash)
                for part in path.parent.glob(path.name):
                    part.unlink(missing_ok=True)
            spans, needs_python = client.query(sql_flatten.inspect_sql(_STAGE)).result_rows[0]
            if needs_python or not spans:
                return None if needs_python else 0
            client.command(f"TRUNCATE TABLE {_PRICES}")
            costs = _costs(client.query(sql_flatten.llm_spans_sql(_STAGE)).result_rows, price)
            if costs:
                client.insert(_PRICES, costs, column_names=["row", "cost", "source"])
            client.command(
                sql_flatten.insert_sql(schema.TRACES, _STAGE, _PRICES, _dedup_settings(token))
            )
            client.command(f"TRUNCATE TABLE {_STAGE}")
            return int(spans)

    def prepare(self) -> None:
        """Ready the fast trace path before the first batch: its temporary tables, and the
        Protobuf schema ClickHouse compiles on first use (an empty batch). A ClickHouse that
        cannot do it (too old for ``input_format_protobuf_oneof_presence``) leaves the
        flattening to Python."""
        if not self._fast_traces:
            return
        try:
            with self._errors_mapped(schema.TRACES), self._lock:
                self._client.command(self._stage_sql(self._write_batch(())))
        except BatchRejected as exc:
            logger.warning("spans are flattened in Python: ClickHouse cannot decode OTLP: %s", exc)
            self._fast_traces = False

    def _stage_sql(self, batch: Path) -> str:
        return sql_flatten.stage_sql(
            _STAGE, str(batch), str(batch.with_name("otlp.proto")), streams=_STREAMS
        )

    def _write_batch(self, payloads: Sequence[bytes]) -> Path:
        """The payloads as length-delimited protobuf messages in this store's batch files (one
        per decoding stream, about equally full); returns their glob pattern."""
        parts: list[list[bytes]] = [[] for _ in range(_STREAMS)]
        sizes = [0] * _STREAMS
        for payload in payloads:
            i = sizes.index(min(sizes))
            parts[i] += (_varint(len(payload)), payload)
            sizes[i] += len(payload)
        try:
            if self._batch_dir is None:
                batch_dir = _batch_dir_of(self.dsn)
                batch_dir.mkdir(exist_ok=True)
                (batch_dir / "otlp.proto").write_text(sql_flatten.schema_text())
                self._client.command(sql_flatten.stage_ddl(_STAGE))
                self._client.command(sql_flatten.prices_ddl(_PRICES))
                self._batch_dir = batch_dir
            for i, part in enumerate(parts):
                (self._batch_dir / f"requests-{i}.pb").write_bytes(b"".join(part))
        except OSError as exc:  # this batch cannot take the fast path; Python's can
            raise BatchRejected(f"cannot write a batch file for ClickHouse: {exc}") from exc
        return self._batch_dir / "requests-*.pb"

    @contextmanager
    def _errors_mapped(self, table: str) -> Iterator[None]:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        try:
            yield
        except CollectorError:
            raise
        except OperationalError as exc:
            raise StoreUnavailable(f"insert into {table} failed: {exc}") from exc
        except DatabaseError as exc:
            raise BatchRejected(f"insert into {table} refused: {exc}") from exc
        except Exception as exc:  # OSError writing the batch file, and the driver's others
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
            if self._batch_dir is not None:
                shutil.rmtree(self._batch_dir, ignore_errors=True)
                self._batch_dir = None


# session-scoped (TEMPORARY) tables of the fast trace path, one batch at a time
_STAGE = "flowscope_batch_spans"
# files, hence ClickHouse threads, decoding one batch (the row order does not matter: the final
# insert forms one block, deduplicated by the batch's token alone)
_STREAMS = 2
_PRICES = "flowscope_batch_prices"


def _dedup_settings(token: str) -> dict[str, Any]:
    return {
        "insert_deduplication_token": token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "insert_deduplicate": 1,
    }


def _batch_dir_of(dsn: str) -> Path:
    """The fast trace path's directory for a chDB store: one per data directory (which one
    process at a time may open), so a restart after a crash reuses it instead of leaking one."""
    digest = hashlib.sha1(os.path.realpath(dsn.removeprefix("chdb://")).encode()).hexdigest()
    return Path(tempfile.gettempdir()) / f"flowscope-batch-{digest[:16]}"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _costs(rows: Sequence[Sequence[Any]], price: PriceFn) -> list[list[Any]]:
    """``[row, usd, source]`` per LLM span; spans with equal price attributes priced once."""
    seen: dict[tuple[str, ...], tuple[float, str]] = {}
    out: list[list[Any]] = []
    for row, values in rows:
        key = tuple(values)
        found = seen.get(key)
        if found is None:
            found = seen[key] = price(key)
        if found[1]:  # (0.0, "") is what a span without a price row gets anyway
            out.append([row, found[0], found[1]])
    return out
