"""The background writer: durable spool records → decoded batches → store → checkpoint.

Each batch covers one byte range of one segment and is inserted with the deduplication token
``<seq>:<start>:<end>:<table>``. The range is written to the checkpoint as ``pending`` before the
insert, so after a crash the same range is replayed with the same token and the store drops the
duplicate block: every acknowledged span is stored exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from collector.errors import BatchRejected, CollectorError, StoreUnavailable
from collector.otlp.logs import LOG_COLUMNS, logs_to_columns
from collector.otlp.metrics import USAGE_COLUMNS, metrics_to_columns
from collector.otlp.rows import SPAN_COLUMNS, span_cost, traces_to_columns
from collector.otlp.sql_flatten import PRICE_ATTRIBUTES
from collector.pricing import Pricer
from collector.spool.wal import (
    KIND_LOGS,
    KIND_METRICS,
    KIND_TRACES,
    Checkpoint,
    Record,
    Spool,
    encode_record,
    list_segments,
    read_records,
    segment_path,
    store_checkpoint,
)
from collector.storage import schema
from collector.storage.store import SpanStore

logger = logging.getLogger(__name__)


@dataclass
class WriterStats:
    batches: int = 0
    spans: int = 0
    datapoints: int = 0
    log_records: int = 0
    skipped_records: int = 0
    store_errors: int = 0
    last_error: str = ""
    store_ready: bool = False


class SpoolWriter:
    """Owns the store connection; runs in its own thread."""

    def __init__(
        self,
        spool: Spool,
        open_store: Callable[[], SpanStore],
        pricer: Pricer,
        *,
        checkpoint: Checkpoint,
        batch_max_records: int,
        batch_max_wait_s: float,
        retry_s: float,
        batch_max_bytes: int = 4 << 20,
    ) -> None:
        self.spool = spool
        self.directory: Path = spool.directory
        self._open_store = open_store
        self.pricer = pricer
        self.checkpoint = checkpoint
        self.batch_max_records = batch_max_records
        self.batch_max_wait_s = batch_max_wait_s
        self.batch_max_bytes = batch_max_bytes
        self.retry_s = retry_s
        self.store: SpanStore | None = None
        self.stats = WriterStats()
        self.store_ready = threading.Event()
        self.max_rejections = 5
        self._rejections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="flowscope-spool-writer", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current batch; unstored records stay in the spool for the next start."""
        self._stop.set()
        self.spool.data_ready.set()
        self._thread.join(timeout)

    # -- thread body ------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.store is None:
                    self._connect()
                    continue
                if not self._step():
                    self.spool.data_ready.wait(self.batch_max_wait_s)
                    self.spool.data_ready.clear()
            except StoreUnavailable as exc:
                self._note_error(exc)
                self._stop.wait(self.retry_s)
            except BatchRejected as exc:
                self._note_error(exc)
                self._rejections += 1
                if self._rejections >= self.max_rejections:
                    self._quarantine(exc)
                else:
                    self._stop.wait(self.retry_s)
            except Exception:  # a bug must not kill the thread that stores acknowledged data
                logger.exception("spool writer failed; retrying")
                self._stop.wait(self.retry_s)

    def _note_error(self, exc: CollectorError) -> None:
        self.stats.store_errors += 1
        if str(exc) != self.stats.last_error:
            logger.warning("store unavailable, spans stay in the spool: %s", exc)
        self.stats.last_error = str(exc)

    def _connect(self) -> None:
        try:
            store = self._open_store()
            store.migrate()
            store.prepare()
        except StoreUnavailable as exc:
            self._note_error(exc)
            self._stop.wait(self.retry_s)
            return
        # genai-prices loads its price data on first use (~0.15 s): now, not in the first batch
        span_cost(
            {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": "1"}, self.pricer
        )
        self.store = store
        self.stats.store_ready = True
        self.stats.last_error = ""
        self.store_ready.set()
        logger.info("store ready")

    def _step(self) -> bool:
        """Store one batch; False when there was nothing to do."""
        records = self._next_batch()
        if not records:
            self._advance_past_finished_segment()
            return False
        seq, start, end = records[0].seq, records[0].start, records[-1].end
        self._save(Checkpoint(self.checkpoint.seq, self.checkpoint.offset, (seq, start, end)))
        self._insert(records, f"{seq}:{start}:{end}")
        self._rejections = 0
        self._save(Checkpoint(seq, end))
        self.spool.release(end - start)
        self.stats.batches += 1
        for old in list_segments(self.directory):
            if old < seq:
                segment_path(self.directory, old).unlink(missing_ok=True)
        return True

    def _quarantine(self, exc: BatchRejected) -> None:
        """Move a batch the store keeps refusing to ``rejected/`` so later batches can flow."""
        pending = self.checkpoint.pending
        if pending is None:
            return
        seq, start, end = pending
        target = self.directory / "rejected" / f"{seq:012d}_{start}_{end}.wal"
        target.parent.mkdir(exist_ok=True)
        with target.open("wb") as handle:
            for record in read_records(self.directory, seq, start, end):
                handle.write(encode_record(record.kind, record.payload))
        logger.error(
            "store refused batch %s:%d-%d %d times (%s); moved to %s",
            seq,
            start,
            end,
            self._rejections,
            exc,
            target,
        )
        self._rejections = 0
        self.stats.skipped_records += 1
        self._save(Checkpoint(seq, end))
        self.spool.release(end - start)

    def _save(self, checkpoint: Checkpoint) -> None:
        store_checkpoint(self.directory, checkpoint, fsync=self.spool.fsync)
        self.checkpoint = checkpoint

    def _advance_past_finished_segment(self) -> None:
        """Move the checkpoint to the next segment once an older one is fully stored."""
        seq, offset = self.checkpoint.seq, self.checkpoint.offset
        durable_seq = self.spool.durable[0]
        if seq >= durable_seq:
            return
        later = [s for s in list_segments(self.directory) if s > seq]
        if not later:
            return
        path = segment_path(self.directory, seq)
        size = path.stat().st_size if path.exists() else 0
        if size > offset:
            # a corrupt/truncated tail the reader gave up on: never acknowledged, skip it
            self.stats.skipped_records += 1
            self.spool.release(size - offset)
        self._save(Checkpoint(later[0], 0))
        path.unlink(missing_ok=True)

    def _next_batch(self) -> list[Record]:
        pending = self.checkpoint.pending
        if pending is not None:
            seq, start, end = pending
            return list(read_records(self.directory, seq, start, end))
        seq, offset = self.checkpoint.seq, self.checkpoint.offset
        if seq == 0:
            segments = list_segments(self.directory)
            if not segments:
                return []
            seq, offset = segments[0], 0
            self.checkpoint = Checkpoint(seq, 0)
        records: list[Record] = []
        size = 0
        deadline = time.monotonic() + self.batch_max_wait_s
        while True:
            durable_seq, durable_offset = self.spool.durable
            limit = durable_offset if seq == durable_seq else None
            if seq > durable_seq:
                return records
            for record in read_records(self.directory, seq, offset, limit):
                records.append(record)
                size += record.end - record.start
                offset = record.end
                if size >= self.batch_max_bytes or len(records) >= self.batch_max_records:
                    return records
            if seq < durable_seq or not records or time.monotonic() >= deadline:
                return records
            if self._stop.is_set():
                return records
            self.spool.data_ready.wait(max(0.0, deadline - time.monotonic()))
            self.spool.data_ready.clear()

    def _insert(self, records: list[Record], token: str) -> None:
        traces = [r.payload for r in records if r.kind == KIND_TRACES]
        metrics = [
            ExportMetricsServiceRequest.FromString(r.payload)
            for r in records
            if r.kind == KIND_METRICS
        ]
        assert self.store is not None
        if traces:
            self.stats.spans += self._insert_traces(self.store, traces, f"{token}:spans")
        if metrics:
            columns, count = metrics_to_columns(metrics)
            if count:
                self.store.insert(schema.USAGE, USAGE_COLUMNS, columns, f"{token}:usage")
            self.stats.datapoints += count
        logs = [
            ExportLogsServiceRequest.FromString(r.payload) for r in records if r.kind == KIND_LOGS
        ]
        if logs:
            columns, count = logs_to_columns(logs)
            if count:
                self.store.insert(schema.LOGS, LOG_COLUMNS, columns, f"{token}:logs")
            self.stats.log_records += count

    def _insert_traces(self, store: SpanStore, payloads: list[bytes], token: str) -> int:
        """Let the store flatten the requests (ClickHouse's Protobuf input, no per-span Python);
        the Python flattener takes the batches it cannot."""
        try:
            count = store.insert_trace_requests(payloads, token, self._price)
        except BatchRejected as exc:  # whatever SQL could not do, the Python path can
            logger.warning("ClickHouse could not flatten batch %s, Python does: %s", token, exc)
            count = None
        if count is not None:
            return count
        requests = [ExportTraceServiceRequest.FromString(p) for p in payloads]
        columns, count = traces_to_columns(requests, self.pricer)
        if count:
            store.insert(schema.TRACES, SPAN_COLUMNS, columns, token)
        return count

    def _price(self, values: Sequence[str]) -> tuple[float, str]:
        return span_cost(dict(zip(PRICE_ATTRIBUTES, values, strict=True)), self.pricer)
