"""Write-ahead log of raw OTLP payloads, group-committed with fsync before acknowledging.

Layout: ``<dir>/<seq>.wal`` segment files of records and ``<dir>/checkpoint.json``.
A record is ``magic u32 | length u32 | crc32 u32 | kind u8 | payload`` (little endian; the CRC
covers kind and payload). The receiver appends on the event loop; the first appender that finds
no fsync in flight starts one in a worker thread, and every append written before it started is
durable when it finishes (group commit). The writer thread reads durable records only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from collector.errors import SpoolFull

logger = logging.getLogger(__name__)

MAGIC = 0x53574C46  # "FLWS"
HEADER = struct.Struct("<IIIB")
KIND_TRACES = 1
KIND_METRICS = 2
KIND_LOGS = 3
KINDS = (KIND_TRACES, KIND_METRICS, KIND_LOGS)

Position = tuple[int, int]  # (segment sequence number, byte offset)


@dataclass(frozen=True)
class Record:
    seq: int
    start: int
    end: int
    kind: int
    payload: bytes


@dataclass(frozen=True)
class Checkpoint:
    """Everything before ``(seq, offset)`` is stored; ``pending`` is a batch being inserted."""

    seq: int
    offset: int
    pending: tuple[int, int, int] | None = None


def encode_record(kind: int, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(bytes([kind])))
    return HEADER.pack(MAGIC, len(payload), crc, kind) + payload


def segment_path(directory: Path, seq: int) -> Path:
    return directory / f"{seq:012d}.wal"


def list_segments(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.wal") if p.stem.isdigit())


def read_records(directory: Path, seq: int, offset: int, limit: int | None) -> Iterator[Record]:
    """Records of segment ``seq`` from ``offset`` up to ``limit`` (None: to the end of file).

    A truncated or corrupt record ends the iteration with a log line: it was never acknowledged
    (acknowledged records are fsynced whole) and everything after it in the segment is unreadable.
    """
    path = segment_path(directory, seq)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(offset)
        pos = offset
        while limit is None or pos < limit:
            header = handle.read(HEADER.size)
            if not header:
                return
            if len(header) < HEADER.size:
                logger.warning("spool %s: truncated record header at offset %d; skipped", path, pos)
                return
            magic, length, crc, kind = HEADER.unpack(header)
            if magic != MAGIC or kind not in KINDS:
                logger.warning(
                    "spool %s: corrupt record at offset %d (bad magic/kind); rest of "
                    "segment skipped",
                    path,
                    pos,
                )
                return
            payload = handle.read(length)
            if len(payload) < length:
                logger.warning(
                    "spool %s: truncated record at offset %d (%d of %d bytes); skipped",
                    path,
                    pos,
                    len(payload),
                    length,
                )
                return
            if zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
                logger.warning(
                    "spool %s: checksum mismatch at offset %d; rest of segment skipped", path, pos
                )
                return
            end = pos + HEADER.size + length
            yield Record(seq, pos, end, kind, payload)
            pos = end


def load_checkpoint(directory: Path) -> Checkpoint:
    path = directory / "checkpoint.json"
    try:
        doc = json.loads(path.read_text())
        pending = doc.get("pending")
        return Checkpoint(int(doc["seq"]), int(doc["offset"]), tuple(pending) if pending else None)  # type: ignore[arg-type]
    except FileNotFoundError:
        return Checkpoint(0, 0)
    except (ValueError, KeyError, TypeError) as exc:
        # The checkpoint is rewritten atomically, so this means outside damage. Replaying from
        # the oldest segment is safe: inserts are deduplicated by their batch token.
        logger.warning("spool %s: unreadable checkpoint (%s); replaying all segments", path, exc)
        return Checkpoint(0, 0)


def store_checkpoint(directory: Path, checkpoint: Checkpoint, *, fsync: bool) -> None:
    path = directory / "checkpoint.json"
    tmp = path.with_suffix(".tmp")
    doc = {
        "seq": checkpoint.seq,
        "offset": checkpoint.offset,
        "pending": list(checkpoint.pending) if checkpoint.pending else None,
    }
    with tmp.open("w") as handle:
        handle.write(json.dumps(doc))
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
    os.replace(tmp, path)


class Spool:
    """The append side (event loop) and the shared positions the writer thread reads."""

    def __init__(self, directory: Path, *, segment_bytes: int, max_bytes: int, fsync: bool) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.data_ready = threading.Event()
        self._lock = threading.Lock()
        self._backlog = 0
        self._fd = -1
        self._seq = 0
        self._offset = 0
        self._durable: Position = (0, 0)
        self._sync_task: asyncio.Future[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> Checkpoint:
        """Create the directory, measure the backlog and start a fresh segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        checkpoint = load_checkpoint(self.directory)
        segments = list_segments(self.directory)
        backlog = 0
        for seq in segments:
            if seq < checkpoint.seq:
                segment_path(self.directory, seq).unlink(missing_ok=True)
                continue
            size = segment_path(self.directory, seq).stat().st_size
            backlog += size - (checkpoint.offset if seq == checkpoint.seq else 0)
        self._backlog = max(0, backlog)
        self._seq = max([*segments, checkpoint.seq]) + 1
        self._open_segment()
        self._durable = (self._seq, 0)
        return checkpoint

    def _open_segment(self) -> None:
        path = segment_path(self.directory, self._seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._offset = 0
        if self.fsync:
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    # -- append side (event loop) --------------------------------------------------------------
    def backlog_bytes(self) -> int:
        with self._lock:
            return self._backlog

    def release(self, nbytes: int) -> None:
        """Called by the writer when ``nbytes`` of records are stored and checkpointed."""
        with self._lock:
            self._backlog = max(0, self._backlog - nbytes)

    @property
    def durable(self) -> Position:
        return self._durable

    async def append(self, kind: int, payload: bytes) -> Position:
        """Append one record; returns once it is on disk (fsynced). Raises SpoolFull."""
        record = encode_record(kind, payload)
        with self._lock:
            if self._backlog + len(record) > self.max_bytes:
                raise SpoolFull(
                    f"spool holds {self._backlog} unwritten bytes (limit {self.max_bytes})"
                )
            self._backlog += len(record)
        written = 0
        while written < len(record):
            written += os.write(self._fd, record[written:])
        self._offset += len(record)
        target = (self._seq, self._offset)
        while self._durable < target:
            if self._sync_task is None:
                self._sync_task = asyncio.ensure_future(self._sync())
            await asyncio.shield(self._sync_task)
        return target

    async def _sync(self) -> None:
        try:
            target = (self._seq, self._offset)
            if self.fsync:
                await asyncio.to_thread(os.fdatasync, self._fd)
            self._durable = target
            if target == (self._seq, self._offset) and self._offset >= self.segment_bytes:
                os.close(self._fd)
                self._seq += 1
                self._open_segment()
                self._durable = (self._seq, 0)
        finally:
            self._sync_task = None
            self.data_ready.set()
