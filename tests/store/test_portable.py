"""The portable SQL helpers give the same answers on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)

from workflow_core.store.errors import StoreError
from workflow_core.store.portable import (
    date_trunc,
    decode_cursor,
    encode_cursor,
    json_number,
    json_text,
    keyset_page,
    page_of,
    upsert,
)
from workflow_core.store.types import JsonDoc, UtcDateTime

scratch = MetaData()
events = Table(
    "scratch_events",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("doc", JsonDoc),
)
counters = Table(
    "scratch_counters",
    scratch,
    Column("name", String(64), primary_key=True),
    Column("label", String(64)),
    Column("hits", Integer, nullable=False),
)

# A Sunday evening with microseconds: week buckets must go back to Monday 2026-11-16.
AT = datetime(2026, 11, 22, 17, 45, 31, 123456, tzinfo=UTC)


@pytest.fixture
def scratch_engine(empty_engine: Engine) -> Engine:
    scratch.create_all(empty_engine)
    return empty_engine


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("minute", datetime(2026, 11, 22, 17, 45, tzinfo=UTC)),
        ("hour", datetime(2026, 11, 22, 17, tzinfo=UTC)),
        ("day", datetime(2026, 11, 22, tzinfo=UTC)),
        ("week", datetime(2026, 11, 16, tzinfo=UTC)),
        ("month", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_date_trunc_buckets_identically_on_every_dialect(
    scratch_engine: Engine, unit: str, expected: datetime
) -> None:
    with scratch_engine.begin() as connection:
        connection.execute(insert(events), [{"id": 1, "at": AT}])
        got = connection.execute(select(date_trunc(unit, events.c.at))).scalar_one()
    assert got == expected


def test_date_trunc_groups_rows_per_bucket_and_keeps_units_apart_in_the_cache(
    scratch_engine: Engine,
) -> None:
    rows = [
        {"id": i, "at": datetime(2026, 11, 22, h, m, tzinfo=UTC)}
        for i, (h, m) in enumerate([(9, 1), (9, 59), (10, 0), (10, 30), (23, 59)], start=1)
    ]
    with scratch_engine.begin() as connection:
        connection.execute(insert(events), rows)
        per_hour = connection.execute(
            select(date_trunc("hour", events.c.at).label("b"), func.count())
            .group_by(date_trunc("hour", events.c.at))
            .order_by(date_trunc("hour", events.c.at))
        ).all()
        per_day = connection.execute(
            select(date_trunc("day", events.c.at).label("b"), func.count()).group_by(
                date_trunc("day", events.c.at)
            )
        ).all()
    assert [(b.hour, n) for b, n in per_hour] == [(9, 2), (10, 2), (23, 1)]
    assert per_day == [(datetime(2026, 11, 22, tzinfo=UTC), 5)]


def test_date_trunc_rejects_an_unknown_unit() -> None:
    with pytest.raises(StoreError, match=r"unit must be one of .* got 'fortnight'"):
        date_trunc("fortnight", events.c.at)


def test_json_fields_are_extracted_as_text_and_numbers(scratch_engine: Engine) -> None:
    doc = {"model": {"name": "gpt-4o", "temperature": 0.25}, "tags": ["a", "b"], "n": 3}
    with scratch_engine.begin() as connection:
        connection.execute(insert(events), [{"id": 1, "at": AT, "doc": doc}])
        row = connection.execute(
            select(
                json_text(events.c.doc, "model", "name"),
                json_number(events.c.doc, "model", "temperature"),
                json_text(events.c.doc, "tags", 1),
                json_number(events.c.doc, "n"),
                json_text(events.c.doc, "missing"),
            )
        ).one()
        matched = connection.execute(
            select(events.c.id).where(json_text(events.c.doc, "model", "name") == "gpt-4o")
        ).scalar_one()
    assert tuple(row) == ("gpt-4o", 0.25, "b", 3, None)
    assert matched == 1


def test_upsert_inserts_then_overwrites_and_increments(scratch_engine: Engine) -> None:
    name = scratch_engine.dialect.name

    def hit(label: str) -> None:
        stmt = upsert(
            name,
            counters,
            {"name": "n1", "label": label, "hits": 1},
            key=["name"],
            overwrite=["label"],
            increment={"hits": 1},
        )
        with scratch_engine.begin() as connection:
            connection.execute(stmt)

    hit("first")
    hit("second")
    hit("third")
    with scratch_engine.connect() as connection:
        rows = connection.execute(select(counters.c.name, counters.c.label, counters.c.hits)).all()
    assert rows == [("n1", "third", 3)]


def test_upsert_without_updates_keeps_the_existing_row(scratch_engine: Engine) -> None:
    name = scratch_engine.dialect.name
    with scratch_engine.begin() as connection:
        for label in ("kept", "ignored"):
            connection.execute(
                upsert(name, counters, {"name": "k", "label": label, "hits": 7}, key=["name"])
            )
        rows = connection.execute(select(counters.c.label, counters.c.hits)).all()
    assert rows == [("kept", 7)]


def test_upsert_rejects_an_unknown_dialect() -> None:
    with pytest.raises(StoreError, match="dialect 'oracle'"):
        upsert("oracle", counters, {"name": "x", "hits": 1}, key=["name"])


def test_keyset_pages_walk_every_row_once_newest_first(scratch_engine: Engine) -> None:
    same = datetime(2026, 11, 22, 12, tzinfo=UTC)  # ties on the timestamp are broken by id
    rows = [
        {"id": i, "at": same if i % 3 else datetime(2026, 11, i, tzinfo=UTC)} for i in range(1, 12)
    ]
    with scratch_engine.begin() as connection:
        connection.execute(insert(events), rows)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        stmt = keyset_page(
            select(events.c.id, events.c.at), events.c.at, events.c.id, limit=4, cursor=cursor
        )
        with scratch_engine.connect() as connection:
            page = page_of(connection.execute(stmt).all(), 4, lambda r: (r.at, r.id))
        seen.extend(r.id for r in page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = [r["id"] for r in sorted(rows, key=lambda r: (r["at"], r["id"]), reverse=True)]
    assert seen == expected
    assert pages == 3


def test_cursor_round_trips_and_bad_cursors_are_rejected() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "run-1")) == (at, "run-1")
    assert decode_cursor(encode_cursor(at, 42)) == (at, 42)
    with pytest.raises(StoreError, match="not a cursor"):
        decode_cursor("garbage!")


def test_keyset_page_rejects_a_limit_out_of_range() -> None:
    with pytest.raises(StoreError, match="limit must be between 1 and 1000, got 0"):
        keyset_page(select(events.c.id), events.c.at, events.c.id, limit=0)
