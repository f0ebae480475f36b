"""Collector settings, built once in the entry point (explicit argument > env var > default)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from collector.errors import ConfigError

DEFAULT_PORT = 4318


def default_store_dsn(cwd: Path | None = None) -> str:
    base = (cwd or Path.cwd()) / ".flowscope" / "chdb"
    return f"chdb://{base.resolve()}"


@dataclass(frozen=True)
class Settings:
    """Everything the collector process needs; see docs/collector.md for the env var names."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    store_dsn: str = field(default_factory=default_store_dsn)
    spool_dir: Path = Path(".flowscope/spool")
    spool_max_bytes: int = 1 << 30
    spool_segment_bytes: int = 64 << 20
    fsync: bool = True
    max_request_bytes: int = 16 << 20
    batch_max_requests: int = 2000
    batch_max_bytes: int = 8 << 20
    batch_max_wait_s: float = 0.2
    ingest_token: str | None = None
    read_token: str | None = None
    forward_endpoints: tuple[str, ...] = ()
    forward_queue_size: int = 1000
    prices_file: Path | None = None
    ttl_days: int = 0
    retry_after_s: int = 5
    store_retry_s: float = 1.0
    database_url: str | None = None  # run store (workflow_core.store) behind /api/runs*


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def spool_dir_for(store_dsn: str) -> Path:
    """Default spool location: next to an embedded store, else under ./.flowscope/spool."""
    if store_dsn.startswith("chdb://") and store_dsn[len("chdb://") :].startswith("/"):
        return Path(store_dsn[len("chdb://") :]).parent / "spool"
    return Path(".flowscope/spool").resolve()


def load_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    store_dsn: str | None = None,
    spool_dir: Path | None = None,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Combine explicit arguments with ``FLOWSCOPE_*`` environment variables and defaults."""
    env = os.environ if env is None else env
    dsn = store_dsn or env.get("FLOWSCOPE_STORE") or default_store_dsn()
    if not (dsn.startswith("chdb://") or dsn.startswith(("clickhouse://", "http://", "https://"))):
        raise ConfigError(
            "FLOWSCOPE_STORE / --store must be chdb:///path or "
            f"clickhouse://user:pass@host:8123/db, got {dsn!r}"
        )
    spool = spool_dir or (
        Path(env["FLOWSCOPE_SPOOL_DIR"]) if env.get("FLOWSCOPE_SPOOL_DIR") else spool_dir_for(dsn)
    )
    forward = tuple(
        e.strip() for e in env.get("FLOWSCOPE_FORWARD_ENDPOINTS", "").split(",") if e.strip()
    )
    prices = env.get("FLOWSCOPE_PRICES_FILE")
    fsync_raw = env.get("FLOWSCOPE_SPOOL_FSYNC", "true").lower()
    if fsync_raw not in ("true", "false", "1", "0"):
        raise ConfigError(f"FLOWSCOPE_SPOOL_FSYNC must be true or false, got {fsync_raw!r}")
    return Settings(
        host=host or env.get("FLOWSCOPE_COLLECTOR_HOST") or "127.0.0.1",
        port=port if port is not None else _int(env, "FLOWSCOPE_COLLECTOR_PORT", DEFAULT_PORT),
        store_dsn=dsn,
        spool_dir=spool,
        spool_max_bytes=_int(env, "FLOWSCOPE_SPOOL_MAX_BYTES", 1 << 30),
        spool_segment_bytes=_int(env, "FLOWSCOPE_SPOOL_SEGMENT_BYTES", 64 << 20),
        fsync=fsync_raw in ("true", "1"),
        max_request_bytes=_int(env, "FLOWSCOPE_MAX_REQUEST_BYTES", 16 << 20),
        batch_max_requests=_int(env, "FLOWSCOPE_BATCH_MAX_REQUESTS", 2000),
        batch_max_bytes=_int(env, "FLOWSCOPE_BATCH_MAX_BYTES", 8 << 20),
        batch_max_wait_s=_float(env, "FLOWSCOPE_BATCH_MAX_WAIT_S", 0.2),
        ingest_token=env.get("FLOWSCOPE_INGEST_TOKEN") or None,
        read_token=env.get("FLOWSCOPE_READ_TOKEN") or None,
        forward_endpoints=forward,
        forward_queue_size=_int(env, "FLOWSCOPE_FORWARD_QUEUE_SIZE", 1000),
        prices_file=Path(prices) if prices else None,
        ttl_days=_int(env, "FLOWSCOPE_TTL_DAYS", 0),
        retry_after_s=_int(env, "FLOWSCOPE_RETRY_AFTER_S", 5),
        store_retry_s=_float(env, "FLOWSCOPE_STORE_RETRY_S", 1.0),
        database_url=database_url or env.get("FLOWSCOPE_DATABASE_URL") or None,
    )
