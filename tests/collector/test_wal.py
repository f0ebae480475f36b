"""The write-ahead log: record framing, group commit, limits and damaged tails."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from pathlib import Path

import pytest

from collector.errors import SpoolFull
from collector.spool import wal
from collector.spool.wal import KIND_METRICS, KIND_TRACES, Spool


def make_spool(directory: Path, max_bytes: int = 1 << 20, segment_bytes: int = 1 << 20) -> Spool:
    spool = Spool(directory, segment_bytes=segment_bytes, max_bytes=max_bytes, fsync=True)
    spool.open()
    return spool


def test_appended_records_read_back_in_order(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    payloads = [os.urandom(n) for n in (0, 1, 100, 5000)]

    async def write() -> None:
        for i, p in enumerate(payloads):
            await spool.append(KIND_TRACES if i % 2 == 0 else KIND_METRICS, p)

    asyncio.run(write())
    spool.close()
    seq = wal.list_segments(tmp_path)[0]
    records = list(wal.read_records(tmp_path, seq, 0, None))
    assert [r.payload for r in records] == payloads
    assert [r.kind for r in records] == [KIND_TRACES, KIND_METRICS] * 2
    assert records[0].start == 0 and all(a.end == b.start for a, b in itertools.pairwise(records))


def test_concurrent_appends_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make_spool(tmp_path)
    calls = 0
    real = os.fdatasync

    def counting(fd: int) -> None:
        nonlocal calls
        calls += 1
        real(fd)

    monkeypatch.setattr(wal.os, "fdatasync", counting)

    async def write() -> None:
        await asyncio.gather(*(spool.append(KIND_TRACES, b"x" * 100) for _ in range(200)))

    asyncio.run(write())
    assert spool.durable == (spool.durable[0], 200 * (wal.HEADER.size + 100))
    assert 1 <= calls < 50  # group commit: far fewer fsyncs than appends


def test_full_spool_refuses_and_frees_on_release(tmp_path: Path) -> None:
    record = wal.HEADER.size + 1000
    spool = make_spool(tmp_path, max_bytes=3 * record)

    async def write(n: int) -> None:
        for _ in range(n):
            await spool.append(KIND_TRACES, b"y" * 1000)

    asyncio.run(write(3))
    with pytest.raises(SpoolFull, match="limit"):
        asyncio.run(write(1))
    spool.release(record)
    asyncio.run(write(1))


def test_segments_rotate_at_the_size_limit(tmp_path: Path) -> None:
    spool = make_spool(tmp_path, segment_bytes=4096)

    async def write() -> None:
        for _ in range(20):
            await spool.append(KIND_TRACES, b"z" * 1000)

    asyncio.run(write())
    assert len(wal.list_segments(tmp_path)) >= 4


def test_truncated_tail_is_skipped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = wal.segment_path(tmp_path, 1)
    good = wal.encode_record(KIND_TRACES, b"complete")
    torn = wal.encode_record(KIND_TRACES, b"torn record payload")[:-5]
    path.write_bytes(good + torn)
    with caplog.at_level(logging.WARNING):
        records = list(wal.read_records(tmp_path, 1, 0, None))
    assert [r.payload for r in records] == [b"complete"]
    assert "truncated record" in caplog.text


def test_corrupt_record_is_detected_by_checksum(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = wal.segment_path(tmp_path, 1)
    first = wal.encode_record(KIND_TRACES, b"first")
    second = bytearray(wal.encode_record(KIND_TRACES, b"second"))
    second[-1] ^= 0xFF
    path.write_bytes(first + bytes(second))
    with caplog.at_level(logging.WARNING):
        records = list(wal.read_records(tmp_path, 1, 0, None))
    assert [r.payload for r in records] == [b"first"]
    assert "checksum mismatch" in caplog.text


def test_garbage_header_is_detected(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wal.segment_path(tmp_path, 1).write_bytes(b"\x00" * 64)
    with caplog.at_level(logging.WARNING):
        assert list(wal.read_records(tmp_path, 1, 0, None)) == []
    assert "corrupt record" in caplog.text


def test_reopen_counts_the_unstored_backlog_and_starts_a_new_segment(tmp_path: Path) -> None:
    spool = make_spool(tmp_path)
    asyncio.run(spool.append(KIND_TRACES, b"a" * 500))
    spool.close()
    again = make_spool(tmp_path)
    assert again.backlog_bytes() == wal.HEADER.size + 500
    assert wal.list_segments(tmp_path) == [1, 2]


def test_checkpoint_roundtrip_and_damaged_checkpoint_replays_all(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wal.store_checkpoint(tmp_path, wal.Checkpoint(3, 120, (3, 120, 400)), fsync=True)
    assert wal.load_checkpoint(tmp_path) == wal.Checkpoint(3, 120, (3, 120, 400))
    (tmp_path / "checkpoint.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert wal.load_checkpoint(tmp_path) == wal.Checkpoint(0, 0)
    assert "unreadable checkpoint" in caplog.text
