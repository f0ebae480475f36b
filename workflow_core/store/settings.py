"""Run store settings: explicit argument > environment variable > default.

| setting | env var | default |
|---|---|---|
| ``database_url`` | ``FLOWSCOPE_DATABASE_URL`` | ``sqlite:///.flowscope/runs.db`` |
| ``max_payload_bytes`` | ``FLOWSCOPE_STORE_MAX_PAYLOAD_BYTES`` | 65536 |
| ``redact_patterns`` | ``FLOWSCOPE_REDACT_PATTERNS`` | none (the built-in rules always apply) |
| ``auto_migrate`` | ``FLOWSCOPE_DB_AUTO_MIGRATE`` | on for SQLite, off for servers |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

from workflow_core.store.database import ENV_DATABASE_URL, resolve_database_url
from workflow_core.store.errors import StoreConfigError
from workflow_core.store.redaction import ENV_REDACT_PATTERNS, parse_patterns

ENV_MAX_PAYLOAD_BYTES = "FLOWSCOPE_STORE_MAX_PAYLOAD_BYTES"
ENV_AUTO_MIGRATE = "FLOWSCOPE_DB_AUTO_MIGRATE"
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
MIN_PAYLOAD_BYTES = 256


@dataclass(frozen=True)
class StoreSettings:
    database_url: URL
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    redact_patterns: tuple[str, ...] = ()
    auto_migrate: bool | None = None  # None: only SQLite migrates itself

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StoreSettings:
        """Settings from ``overrides`` (non-``None`` wins), then ``environ``, then defaults."""
        env = os.environ if environ is None else environ
        given = {k: v for k, v in overrides.items() if v is not None}
        url = resolve_database_url(given.pop("database_url", None), environ=env)
        values: dict[str, Any] = {}
        if raw := env.get(ENV_MAX_PAYLOAD_BYTES):
            values["max_payload_bytes"] = _int(ENV_MAX_PAYLOAD_BYTES, raw)
        if raw := env.get(ENV_REDACT_PATTERNS):
            values["redact_patterns"] = parse_patterns(raw)
        if raw := env.get(ENV_AUTO_MIGRATE):
            values["auto_migrate"] = _bool(ENV_AUTO_MIGRATE, raw)
        values.update(given)
        if values.get("max_payload_bytes", MIN_PAYLOAD_BYTES) < MIN_PAYLOAD_BYTES:
            raise StoreConfigError(
                f"max_payload_bytes must be at least {MIN_PAYLOAD_BYTES}, "
                f"got {values['max_payload_bytes']}"
            )
        if "redact_patterns" in values:
            values["redact_patterns"] = tuple(values["redact_patterns"])
        return cls(database_url=url, **values)

    @property
    def migrates_itself(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.database_url.get_backend_name() == "sqlite"


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise StoreConfigError(f"{name} must be an integer (bytes), got {raw!r}") from None


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise StoreConfigError(f"{name} must be true or false, got {raw!r}")


__all__ = ["ENV_DATABASE_URL", "StoreSettings"]
