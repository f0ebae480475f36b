"""Log ingest: OTLP log records through a real collector vs. inserting the same rows into chDB.

Run as ``python -m bench.logs [--records 200000] [--per-request 1000] [--lookups 50]``.

1. *raw*: the records flattened once (``logs_to_columns``) and inserted straight into a fresh
   chDB store with the collector's schema: what ClickHouse alone does on this machine.
2. *e2e*: the same serialized ``ExportLogsServiceRequest`` bodies posted by 8 client threads to
   ``flowscope collector`` (a subprocess) until ``/healthz`` says every record is stored: parse,
   validate, WAL spool with fsync, batched deduplicated inserts.
3. *lookup*: ``GET /api/traces/{trace_id}/logs`` for random traces of the stored set, each
   answer checked against the records sent for that trace.
4. *search*: ``GET /api/logs`` over the whole set (last 7 days): body text and minimum severity
   (``q=HTTP 429&severity=warn``), newest 100; each answer checked to match its filters.

Last line: one JSON object with ``records``, ``raw_rows_per_s``, ``e2e_records_per_s``,
``ratio`` (= e2e / raw, same run), ``e2e_peak_rss_mb``, ``lookup_ms_p50``, ``lookup_ms_p95``,
``search_ms_p50``.
Records are spread over traces of 20 records each (5 spans, 4 records a span), from
3 services, with realistic bodies and attributes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from bench.ingest import Collector, Load, _rss_mb, timed_inserts, workspace

RECORDS_PER_TRACE = 20
RECORDS_PER_SPAN = 4
SERVICES = ("shop-api", "kb-search", "billing")
MESSAGES = (
    "calling the model for node {n}",
    "retrieved {n} chunks from the knowledge base",
    "cache miss for key user:{n}",
    "retrying after HTTP 429 (attempt {n})",
    "node {n} finished",
)
SEVERITIES = ((9, "INFO"), (9, "INFO"), (5, "DEBUG"), (13, "WARN"), (17, "ERROR"))


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def make_requests(
    n_records: int, per_request: int, seed: int = 7
) -> tuple[list[bytes], dict[str, int]]:
    """Serialized requests, and how many records each trace got."""
    rng = random.Random(seed)
    now = time.time_ns()
    per_trace: dict[str, int] = {}
    bodies: list[bytes] = []
    made = 0
    while made < n_records:
        request = ExportLogsServiceRequest()
        resource_logs = request.resource_logs.add()
        service = rng.choice(SERVICES)
        resource_logs.resource.attributes.extend(
            [_kv("service.name", service), _kv("deployment.environment", "bench")]
        )
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = "bench.logs"
        records = scope_logs.log_records
        while len(records) < per_request and made < n_records:
            trace_id = rng.randbytes(16)
            count = min(RECORDS_PER_TRACE, n_records - made, per_request - len(records))
            span_id = rng.randbytes(8)
            for i in range(count):
                if i % RECORDS_PER_SPAN == 0:
                    span_id = rng.randbytes(8)
                number, text = rng.choice(SEVERITIES)
                record = LogRecord(
                    time_unix_nano=now + made * 1000,
                    observed_time_unix_nano=now + made * 1000 + 50_000,
                    trace_id=trace_id,
                    span_id=span_id,
                    flags=1,
                    severity_number=number,  # type: ignore[arg-type]
                    severity_text=text,
                )
                record.body.string_value = rng.choice(MESSAGES).format(n=rng.randint(1, 999))
                record.attributes.extend(
                    [_kv("code.function", "invoke"), _kv("code.lineno", rng.randint(1, 400))]
                )
                records.append(record)
                made += 1
            per_trace[trace_id.hex()] = per_trace.get(trace_id.hex(), 0) + count
        bodies.append(request.SerializeToString())
    return bodies, per_trace


def raw_insert_rate(bodies: list[bytes], workdir: Path) -> float:
    """Rows/s of inserting the flattened records straight into chDB (the collector's schema)."""
    from collector.otlp.logs import LOG_COLUMNS, logs_to_columns
    from collector.storage import schema

    per_batch = 20  # 20 requests of 1000 records: 20k rows per insert, as the writer batches
    batches = [
        logs_to_columns([ExportLogsServiceRequest.FromString(b) for b in bodies[i : i + per_batch]])
        for i in range(0, len(bodies), per_batch)
    ]
    return timed_inserts(workdir, schema.LOGS, LOG_COLUMNS, batches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.logs", description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--per-request", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=50)
    args = parser.parse_args(argv)

    bodies, per_trace = make_requests(args.records, args.per_request)
    with workspace() as workdir:
        raw = raw_insert_rate(bodies, workdir)
        print(f"raw chDB insert: {raw:,.0f} rows/s", file=sys.stderr)
        collector = Collector(workdir)
        try:
            started = time.perf_counter()
            per_body = args.records // len(bodies)
            Load(collector.url, bodies, per_body, path="/v1/logs").start().join()
            collector.wait_stored(args.records, key="log_records_stored")
            e2e = args.records / (time.perf_counter() - started)
            peak = _rss_mb(collector.proc.pid, "VmHWM")
            print(f"e2e through the collector: {e2e:,.0f} records/s", file=sys.stderr)
            rng = random.Random(11)
            timings = []
            with httpx.Client(timeout=60) as client:
                for trace_id in rng.sample(sorted(per_trace), min(args.lookups, len(per_trace))):
                    began = time.perf_counter()
                    response = client.get(f"{collector.url}/api/traces/{trace_id}/logs")
                    timings.append((time.perf_counter() - began) * 1000)
                    got = response.json()["logs"]
                    assert len(got) == per_trace[trace_id], (trace_id, len(got))
                searches = []
                for _ in range(args.lookups):
                    began = time.perf_counter()
                    response = client.get(
                        f"{collector.url}/api/logs", params={"q": "http 429", "severity": "warn"}
                    )
                    searches.append((time.perf_counter() - began) * 1000)
                    found = response.json()["logs"]
                    assert found and all(
                        "HTTP 429" in r["body"] and r["severity_number"] >= 13 for r in found
                    ), found[:3]
        finally:
            collector.stop()
    timings.sort()
    result = {
        "records": args.records,
        "raw_rows_per_s": round(raw),
        "e2e_records_per_s": round(e2e),
        "ratio": round(round(e2e) / round(raw), 3),
        "e2e_peak_rss_mb": round(peak, 1),
        "lookups": len(timings),
        "lookup_ms_p50": round(statistics.median(timings), 1),
        "lookup_ms_p95": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "search_ms_p50": round(statistics.median(searches), 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
