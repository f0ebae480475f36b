"""Property tests of the decoders and schemathesis against the live OpenAPI: bad input is 4xx."""

from __future__ import annotations

import contextlib
import gzip
import json
import os

import schemathesis
from collector_harness import CollectorProcess
from collector_otlp_client import to_otlp_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from collector.errors import DecodeError, PayloadTooLarge
from collector.otlp.body import inflate, parse_traces
from collector.otlp.reject import reject_invalid_spans
from collector.otlp.rows import SPAN_COLUMNS, traces_to_columns
from collector.pricing import Pricer

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(
    st.text(max_size=20).map(lambda s: AnyValue(string_value=s)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: AnyValue(double_value=f)),
    st.binary(max_size=10).map(lambda b: AnyValue(bytes_value=b)),
)


def _array(values: list[AnyValue]) -> AnyValue:
    value = AnyValue()
    value.array_value.values.extend(values)
    return value


any_values = st.one_of(scalars, st.lists(scalars, max_size=3).map(_array))
attributes = st.lists(
    st.builds(KeyValue, key=st.text(min_size=1, max_size=10), value=any_values), max_size=5
)
spans = st.builds(
    Span,
    trace_id=st.binary(min_size=16, max_size=16),
    span_id=st.binary(min_size=8, max_size=8),
    parent_span_id=st.sampled_from([b"", os.urandom(8)]),
    name=st.text(max_size=30),
    kind=st.integers(0, 5),
    start_time_unix_nano=st.integers(0, 2**63),
    end_time_unix_nano=st.integers(0, 2**63),
    attributes=attributes,
)


def request_of(span_list: list[Span]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.extend(span_list)
    return request


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_fail_with_decode_error(body: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_traces(body, "application/x-protobuf")


@FAST
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "attributes", "x"]
                ),
                inner,
                max_size=3,
            )
        ),
        max_leaves=15,
    )
)
def test_random_json_decodes_or_fails_with_decode_error(doc: object) -> None:
    with contextlib.suppress(DecodeError):
        parse_traces(json.dumps(doc).encode(), "application/json")


@FAST
@given(st.binary(max_size=200), st.integers(1, 10_000))
def test_inflate_never_exceeds_the_limit(body: bytes, limit: int) -> None:
    for data in (body, gzip.compress(body)):
        try:
            out = inflate(data, "gzip", limit)
        except (DecodeError, PayloadTooLarge):
            continue
        assert len(out) <= limit


@FAST
@given(st.lists(spans, max_size=6))
def test_valid_requests_flatten_to_one_row_per_kept_span(span_list: list[Span]) -> None:
    request = request_of(span_list)
    as_json = json.dumps(to_otlp_json(request)).encode()
    assert parse_traces(as_json, "application/json") == request  # OTLP JSON round trip
    rejected, _ = reject_invalid_spans(request)
    columns, count = traces_to_columns([request], Pricer())
    assert count + rejected == len(span_list)
    assert len(columns) == len(SPAN_COLUMNS)
    assert all(len(column) == count for column in columns)


def test_openapi_operations_answer_bad_input_with_4xx_never_5xx(
    collector: CollectorProcess,
) -> None:
    """schemathesis generates requests for every operation of the live OpenAPI description."""
    schema = schemathesis.openapi.from_url(f"{collector.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/traces",
        "/api/traces/{trace_id}",
        "/api/stats/nodes",
        "/api/traces",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=collector.url, timeout=60)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: "
                f"{response.text[:500]}"
            )

        check()
