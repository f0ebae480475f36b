"""``flowscope reprice``: recompute stored LLM cost after a price change, then rebuild rollups.

Cost is recomputed per distinct (provider, model, input, output, cached tokens) combination with
the same :class:`~collector.pricing.Pricer` as ingest, so tiers and price-file rules apply
exactly. A provided ``flowscope.cost.usd`` is never overwritten.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.errors import ConfigError
from collector.pricing import Usage, build_pricer
from collector.storage import schema
from collector.storage.store import ClickHouseStore, SpanStore

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
SELECTED = (
    "Timestamp >= {since:DateTime64(9)} AND Timestamp <= {until:DateTime64(9)} "
    "AND CostSource != 'provided' AND Model != ''"
)


def parse_time(value: str, option: str) -> datetime:
    match = _DURATION.match(value.strip())
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{option} must be ISO 8601 (2026-01-31T00:00) or a duration like 7d, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def reprice(dsn: str, since: datetime, until: datetime | None, prices_file: Path | None) -> str:
    store = ClickHouseStore(dsn)
    try:
        store.migrate()
        return reprice_store(store, since, until or datetime.now(UTC), prices_file)
    finally:
        store.close()


def reprice_store(
    store: SpanStore, since: datetime, until: datetime, prices_file: Path | None
) -> str:
    pricer = build_pricer(prices_file)
    params = {
        "since": since.astimezone(UTC).replace(tzinfo=None),
        "until": until.astimezone(UTC).replace(tzinfo=None),
    }
    combos = store.query(
        f"SELECT Provider, Model, InputTokens, OutputTokens, CacheReadTokens, count() AS n "
        f"FROM {schema.TRACES} WHERE {SELECTED} "
        "GROUP BY Provider, Model, InputTokens, OutputTokens, CacheReadTokens",
        params,
    )
    changed = 0
    for combo in combos:
        cost, source = pricer.price(
            Usage(
                combo["Provider"],
                combo["Model"],
                int(combo["InputTokens"]),
                int(combo["OutputTokens"]),
                int(combo["CacheReadTokens"]),
            )
        )
        store.command(
            f"ALTER TABLE {schema.TRACES} UPDATE CostUsd = {{cost:Float64}}, "
            f"CostSource = {{source:String}} WHERE {SELECTED} AND Provider = {{provider:String}} "
            "AND Model = {model:String} AND InputTokens = {i:UInt64} "
            "AND OutputTokens = {o:UInt64} AND CacheReadTokens = {c:UInt64} "
            "SETTINGS mutations_sync = 1",
            {
                **params,
                "cost": cost,
                "source": source,
                "provider": combo["Provider"],
                "model": combo["Model"],
                "i": combo["InputTokens"],
                "o": combo["OutputTokens"],
                "c": combo["CacheReadTokens"],
            },
        )
        changed += int(combo["n"])
    rebuild_rollup(store, since, until)
    return f"repriced {changed} LLM spans in {len(combos)} price groups; rollups rebuilt"


def rebuild_rollup(store: SpanStore, since: datetime, until: datetime) -> None:
    """Recompute the minute rollup for [since, until] and the hourly rollup for those hours."""
    params = {
        "since": since.astimezone(UTC).replace(tzinfo=None),
        "until": until.astimezone(UTC).replace(tzinfo=None),
    }
    minute_range = (
        "Minute >= toStartOfMinute({since:DateTime64(9)}) "
        "AND Minute <= toStartOfMinute({until:DateTime64(9)})"
    )
    hour_range = (
        "Hour >= toStartOfHour({since:DateTime64(9)}) "
        "AND Hour <= toStartOfHour({until:DateTime64(9)})"
    )
    store.command(
        f"ALTER TABLE {schema.NODE_ROLLUP} DELETE WHERE {minute_range} SETTINGS mutations_sync = 1",
        params,
    )
    select = schema.NODE_ROLLUP_SELECT.format(source=schema.TRACES).replace(
        "WHERE NodeId != ''",
        "WHERE NodeId != '' AND Timestamp >= toStartOfMinute({since:DateTime64(9)}) "
        "AND Timestamp < toStartOfMinute({until:DateTime64(9)}) + INTERVAL 1 MINUTE",
    )
    store.command(f"INSERT INTO {schema.NODE_ROLLUP} {select}", params)
    # the insert above also fed the hourly view with partial hours: rebuild those hours whole
    store.command(
        f"ALTER TABLE {schema.NODE_ROLLUP_HOURLY} DELETE WHERE {hour_range} "
        "SETTINGS mutations_sync = 1",
        params,
    )
    hourly = schema.NODE_ROLLUP_HOURLY_SELECT.format(source=schema.NODE_ROLLUP).replace(
        "    GROUP BY Hour,",
        "    WHERE Minute >= toStartOfHour({since:DateTime64(9)}) "
        "AND Minute < toStartOfHour({until:DateTime64(9)}) + INTERVAL 1 HOUR\n    GROUP BY Hour,",
    )
    store.command(f"INSERT INTO {schema.NODE_ROLLUP_HOURLY} {hourly}", params)
