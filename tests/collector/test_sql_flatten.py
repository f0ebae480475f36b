"""ClickHouse's flattening of OTLP protobuf (the embedded store's fast path) stores exactly the
rows the Python flattener stores, prices LLM spans the same way, hands every batch it cannot
write identically back to Python, and replays a batch as a deduplicated no-op."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from collector.otlp.rows import SPAN_COLUMNS, span_cost, traces_to_columns
from collector.otlp.sql_flatten import PRICE_ATTRIBUTES
from collector.pricing import PriceEntry, PriceFile, Pricer
from collector.storage import schema
from collector.storage.store import ClickHouseStore

PRICER = Pricer(
    PriceFile(
        models=[PriceEntry(match="house-*", kind="glob", input_per_mtok=0.7, output_per_mtok=2.1)]
    )
)
_tokens = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseStore]:
    # chDB hosts one data directory per process; this module is the only in-process user
    path = Path(tmp_path_factory.mktemp("flatten")) / "chdb"
    opened = ClickHouseStore(f"chdb://{path}")
    opened.migrate()
    try:
        yield opened
    finally:
        opened.close()


def price(values: Sequence[str]) -> tuple[float, str]:
    return span_cost(dict(zip(PRICE_ATTRIBUTES, values, strict=True)), PRICER)


def stored(store: ClickHouseStore) -> list[dict[str, Any]]:
    rows = store.query(
        f"SELECT * EXCEPT (Timestamp, `Events.Timestamp`), "
        "toUnixTimestamp64Nano(Timestamp) AS ts, "
        "arrayMap(t -> toUnixTimestamp64Nano(t), `Events.Timestamp`) AS event_ts, "
        "mapKeys(SpanAttributes) AS attribute_order, "
        "mapKeys(ResourceAttributes) AS resource_order, "
        "Model, Provider, InputTokens, OutputTokens, NodeId, SamplingRate "
        f"FROM {schema.TRACES} ORDER BY SpanId, ts, SpanName, toString(SpanAttributes)"
    )
    store.command(f"TRUNCATE TABLE {schema.TRACES}")
    return rows


def both_ways(
    store: ClickHouseStore, requests: list[ExportTraceServiceRequest]
) -> tuple[int | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """(fast path's span count or None, its rows, the Python flattener's rows)."""
    payloads = [r.SerializeToString() for r in requests]
    count = store.insert_trace_requests(payloads, f"fast-{next(_tokens)}", price)
    fast = stored(store)
    columns, n = traces_to_columns(requests, PRICER)
    if n:
        store.insert(schema.TRACES, SPAN_COLUMNS, columns, f"python-{next(_tokens)}")
    return count, fast, stored(store)


def kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def array(*values: AnyValue) -> AnyValue:
    out = AnyValue()
    out.array_value.values.extend(values)
    return out


def kvlist(*pairs: KeyValue) -> AnyValue:
    out = AnyValue()
    out.kvlist_value.values.extend(pairs)
    return out


def sv(text: str) -> AnyValue:
    return AnyValue(string_value=text)


def iv(number: int) -> AnyValue:
    return AnyValue(int_value=number)


def dv(number: float) -> AnyValue:
    return AnyValue(double_value=number)


def bv(flag: bool) -> AnyValue:
    return AnyValue(bool_value=flag)


EVERY_VALUE = [
    kv("s", sv("text with ünïcode, 'quotes', \"double\", back\\slash, tab\t, nl\n, /slash")),
    kv("empty.s", sv("")),
    kv("control", sv("\x01\x1f\u2028 at top level stay raw")),
    kv("t", bv(True)),
    kv("f", bv(False)),
    kv("zero", iv(0)),
    kv("neg", iv(-42)),
    kv("big", iv(2**62)),
    kv("min", iv(-(2**63))),
    kv("d0", dv(0.0)),
    kv("dneg0", dv(-0.0)),
    kv("d1", dv(1.0)),
    kv("d", dv(1.5)),
    kv("tenth", dv(0.1)),
    kv("small", dv(0.0001)),
    kv("third", dv(-1 / 3)),
    kv("large", dv(9999999999999998.0)),
    kv("bytes", AnyValue(bytes_value=b"\x00\xffbinary")),
    kv("empty.bytes", AnyValue(bytes_value=b"")),
    kv("unset", AnyValue()),
    kv("strs", array(sv("a"), sv('q"uote'), sv("back\\slash"), sv("nl\n\ttab\x01"), sv("/ü"))),
    kv("ints", array(iv(1), iv(-2), iv(2**63 - 1))),
    kv("doubles", array(dv(0.25), dv(2.0), dv(-0.0), dv(123456.5))),
    kv("bools", array(bv(True), bv(False))),
    kv("mixed", array(sv("x"), iv(1), dv(1.5), bv(True), AnyValue(bytes_value=b"ab"), AnyValue())),
    kv("empty.array", array()),
    kv("map", kvlist(kv("k", sv("v")), kv("n", iv(3)), kv('q"k', dv(0.5)), kv("none", AnyValue()))),
    kv("empty.map", kvlist()),
    kv("strindex", AnyValue(string_value_strindex=7)),
]


def span(name: str, attributes: list[KeyValue], **fields: Any) -> Span:
    times = {
        "start_time_unix_nano": 1_795_000_000_123_456_789,
        "end_time_unix_nano": 1_795_000_001_000_000_000,
    }
    out = Span(
        trace_id=bytes(range(1, 17)),
        span_id=name.encode().ljust(8, b"_")[:8],
        name=name,
        **{**times, **fields},
    )
    out.attributes.extend(attributes)
    return out


def request(
    spans: list[Span], resource: list[KeyValue] | None = None, scope: str = "scope"
) -> ExportTraceServiceRequest:
    out = ExportTraceServiceRequest()
    rs = out.resource_spans.add()
    rs.resource.attributes.extend(
        resource if resource is not None else [kv("service.name", sv("svc"))]
    )
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.scope.version = "1.2.3"
    ss.spans.extend(spans)
    return out


def llm(name: str, model: str, provider: str, tokens_in: int, tokens_out: int) -> Span:
    return span(
        name,
        [
            kv("flowscope.span.kind", sv("llm")),
            kv("flowscope.node.id", sv("n1")),
            kv("gen_ai.request.model", sv(model)),
            kv("gen_ai.provider.name", sv(provider)),
            kv("gen_ai.usage.input_tokens", iv(tokens_in)),
            kv("gen_ai.usage.output_tokens", iv(tokens_out)),
            kv("sampling.rate", dv(0.25)),
        ],
        kind=Span.SPAN_KIND_CLIENT,
    )


def full_featured() -> list[ExportTraceServiceRequest]:
    root = span("root", EVERY_VALUE, kind=Span.SPAN_KIND_SERVER, trace_state="v=1")
    event = root.events.add(time_unix_nano=1_795_000_000_500_000_001, name="cache miss")
    event.attributes.extend([kv("key", sv("k1")), kv("n", iv(3)), kv("ok", bv(False))])
    root.events.add(time_unix_nano=1_795_000_000_600_000_000, name="bare")
    child = span("child", [], parent_span_id=root.span_id, kind=Span.SPAN_KIND_CLIENT)
    child.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="upstream timed out"))
    link = child.links.add(trace_id=bytes(range(16, 32)), span_id=b"\x11" * 8, trace_state="a=b")
    link.attributes.extend([kv("link.kind", sv("follows")), kv("w", dv(0.5))])
    odd = span("odd", [kv("x", sv("y"))], kind=9)  # out-of-range kind and status code
    odd.status.code = 7  # type: ignore[assignment]
    odd.end_time_unix_nano = odd.start_time_unix_nano - 5  # ends before it starts
    second = request([odd], resource=[kv("host", sv("h"))], scope="other")  # no service.name
    second.resource_spans.add()  # a resource without scopes
    return [request([root, child]), second, ExportTraceServiceRequest()]


def priced() -> list[ExportTraceServiceRequest]:
    provided = span(
        "provided", [kv("flowscope.cost.usd", sv("0.125")), kv("gen_ai.request.model", sv("x"))]
    )
    spans = [
        llm("a", "gpt-4o-mini", "openai", 1200, 300),
        llm("b", "gpt-4o-mini", "openai", 1200, 300),  # same tokens: priced once
        llm("c", "house-llama", "local", 5000, 10),
        llm("d", "no-such-model-anywhere", "nobody", 10, 10),
        llm("e", "gpt-4o", "openai", 0, 0),
        provided,
        span("plain", [kv("gen_ai.usage.input_tokens", iv(5))]),
    ]
    return [request(spans)]


@pytest.mark.parametrize("requests", [full_featured(), priced()], ids=["every-field", "priced"])
def test_clickhouse_flattening_stores_what_python_stores(
    store: ClickHouseStore, requests: list[ExportTraceServiceRequest]
) -> None:
    count, fast, python = both_ways(store, requests)
    assert count == len(python) > 0
    assert fast == python


def test_llm_spans_are_priced_like_the_python_path(store: ClickHouseStore) -> None:
    count, fast, _ = both_ways(store, priced())
    assert count == 7
    cost = {row["SpanName"]: (row["CostUsd"], row["CostSource"]) for row in fast}
    assert cost["a"] == cost["b"] and cost["a"][1] == "genai-prices" and cost["a"][0] > 0
    assert cost["c"] == pytest.approx(((5000 * 0.7 + 10 * 2.1) / 1e6, "price-file"))
    assert cost["d"] == (0.0, "unknown")
    assert cost["e"] == (0.0, "")
    assert cost["provided"] == (0.125, "provided")
    assert cost["plain"] == (0.0, "")


UNSUPPORTED = {
    "array-in-array": [kv("a", array(array(sv("x"))))],
    "map-in-array": [kv("a", array(kvlist(kv("k", sv("v")))))],
    "duplicate-keys": [kv("k", sv("1")), kv("k", sv("2"))],
    "duplicate-map-keys": [kv("m", kvlist(kv("k", sv("1")), kv("k", sv("2"))))],
    "tiny-double": [kv("d", dv(1e-5))],
    "huge-double": [kv("d", dv(1e16))],
    "nan": [kv("d", dv(float("nan")))],
    "infinity": [kv("d", dv(float("-inf")))],
    "double-in-array": [kv("a", array(dv(1e300)))],
    "control-char-in-array": [kv("a", array(sv("\x1f")))],
    "line-separator-in-map-key": [kv("m", kvlist(kv("\u2028", sv("v"))))],
}


@pytest.mark.parametrize("attributes", list(UNSUPPORTED.values()), ids=list(UNSUPPORTED))
def test_values_sql_would_write_differently_go_to_python(
    store: ClickHouseStore, attributes: list[KeyValue]
) -> None:
    count, fast, python = both_ways(store, [request([span("s", attributes)])])
    assert count is None and fast == []
    assert len(python) == 1


def event_with(attributes: list[KeyValue]) -> ExportTraceServiceRequest:
    out = span("s", [])
    out.events.add(name="e").attributes.extend(attributes)
    return request([out])


def link_with(attributes: list[KeyValue]) -> ExportTraceServiceRequest:
    out = span("s", [])
    out.links.add(trace_id=bytes(16), span_id=bytes(8)).attributes.extend(attributes)
    return request([out])


ELSEWHERE = {
    "array-in-event": event_with([kv("a", array(sv("x")))]),
    "duplicate-event-keys": event_with([kv("k", sv("1")), kv("k", sv("2"))]),
    "tiny-double-in-link": link_with([kv("d", dv(1e-7))]),
    "duplicate-resource-keys": request([span("s", [])], resource=[kv("r", iv(1)), kv("r", iv(2))]),
}


def late(event: bool) -> ExportTraceServiceRequest:
    out = span("s", [])
    if event:
        out.events.add(name="e", time_unix_nano=2**63 + 5)
    else:
        out.start_time_unix_nano, out.end_time_unix_nano = 2**63 + 5, 2**63 + 10
    return request([out])


@pytest.mark.parametrize("event", [False, True], ids=["span-start", "event-time"])
def test_times_past_2262_go_to_python(store: ClickHouseStore, event: bool) -> None:
    """DateTime64(9) ends in 2262: Python's insert refuses such a batch, SQL must not wrap it."""
    payloads = [late(event).SerializeToString()]
    assert store.insert_trace_requests(payloads, f"late-{next(_tokens)}", price) is None
    assert stored(store) == []


@pytest.mark.parametrize("batch", list(ELSEWHERE.values()), ids=list(ELSEWHERE))
def test_events_links_and_resources_needing_python_go_to_python(
    store: ClickHouseStore, batch: ExportTraceServiceRequest
) -> None:
    count, fast, python = both_ways(store, [batch, *full_featured()])
    assert (count, fast) == (None, [])
    assert len(python) == 4


def test_replayed_batch_with_its_token_is_stored_once(store: ClickHouseStore) -> None:
    payloads = [r.SerializeToString() for r in priced()]

    def rollup_usd() -> float:
        rows = store.query(f"SELECT sum(CostUsd) AS usd FROM {schema.NODE_ROLLUP}")
        return float(rows[0]["usd"])

    before = rollup_usd()
    assert store.insert_trace_requests(payloads, "replay-token", price) == 7
    once = rollup_usd()
    assert once > before  # the llm spans carry a node id: the minute rollup counted their cost
    for _ in range(2):  # a crash between insert and checkpoint: the same batch, the same token
        assert store.insert_trace_requests(payloads, "replay-token", price) == 7
    assert rollup_usd() == once
    assert len(stored(store)) == 7


scalars = st.one_of(
    st.text(max_size=12).map(sv),
    st.booleans().map(bv),
    st.integers(-(2**63), 2**63 - 1).map(iv),
    st.floats(allow_nan=True, allow_infinity=True).map(dv),
    st.binary(max_size=6).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3).map(lambda vs: array(*vs)),
    st.lists(st.tuples(st.text(max_size=4), scalars), max_size=3).map(
        lambda pairs: kvlist(*(kv(k, v) for k, v in pairs))
    ),
)
attribute_lists = st.lists(st.tuples(st.text(max_size=8), values), max_size=5).map(
    lambda pairs: [kv(k, v) for k, v in pairs]
)
random_spans = st.builds(
    lambda name, attrs, kind, start, length: span(
        name,
        attrs,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=max(0, start + length),
    ),
    st.text(min_size=1, max_size=8),
    attribute_lists,
    st.integers(0, 5),
    st.integers(0, 2**62),
    st.integers(-10, 10**12),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(random_spans, min_size=1, max_size=5), attribute_lists)
def test_random_requests_store_identically_or_go_to_python(
    store: ClickHouseStore, spans: list[Span], resource: list[KeyValue]
) -> None:
    count, fast, python = both_ways(store, [request(spans, resource=resource)])
    if count is None:
        assert fast == []
    else:
        assert fast == python
