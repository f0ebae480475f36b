"""The portable SQL helpers give the same answers on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

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
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from workflow_core.store.database import create_store_engine
from workflow_core.store.errors import StoreError
from workflow_core.store.portable import (
    date_trunc,
    decode_cursor,
    encode_cursor,
    is_retryable,
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


def _provoke_deadlock(engine: Engine) -> BaseException:
    """Two transactions each lock one row, then want the other's: the database must abort one."""
    with engine.begin() as connection:
        connection.execute(insert(counters), [{"name": n, "hits": 0} for n in ("a", "b")])
    ready = threading.Barrier(2)
    errors: list[BaseException] = []

    def txn(first: str, second: str) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(update(counters).where(counters.c.name == first).values(hits=1))
                ready.wait(timeout=30)
                connection.execute(update(counters).where(counters.c.name == second).values(hits=2))
        except DBAPIError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=txn, args=p) for p in (("a", "b"), ("b", "a"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors, "the database let both transactions finish"
    return errors[0]


def test_is_retryable_recognises_a_real_deadlock(server_url: URL) -> None:
    engine = create_store_engine(server_url)
    try:
        scratch.create_all(engine)
        assert is_retryable(_provoke_deadlock(engine))
    finally:
        engine.dispose()


def test_is_retryable_recognises_a_locked_sqlite_database(tmp_path: Path) -> None:
    engine = create_store_engine(
        URL.create("sqlite", database=str(tmp_path / "db.sqlite")), connect_args={"timeout": 0}
    )
    scratch.create_all(engine)
    writer = engine.execution_options(flowscope_sqlite_begin="IMMEDIATE")
    with writer.begin(), pytest.raises(DBAPIError) as caught, writer.begin() as second:
        second.execute(insert(counters).values(name="x", hits=1))
    assert is_retryable(caught.value)
    assert not is_retryable(ValueError("not a database error"))
    engine.dispose()
