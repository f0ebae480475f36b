"""OTLP messages flattened into the column-oriented rows of ``otel_traces``.

Attribute values become strings the way the OpenTelemetry Collector ClickHouse exporter writes
them (``pcommon.Value.AsString``): strings as is, booleans ``true``/``false``, integers and
doubles in decimal, bytes in base64, arrays and maps as JSON.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.pricing import Pricer, Usage

SPAN_COLUMNS: tuple[str, ...] = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
    "CostUsd",
    "CostSource",
)

# The store's DateTime64(9) ends at 2**63 - 1 ns after the epoch (2262-04-11T23:47:16Z); a later
# time (OTLP allows up to 2**64 - 1) would make the insert of its whole batch fail.
LAST_STORABLE_NANO = 2**63 - 1

SPAN_KINDS = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES = ("Unset", "Ok", "Error")


def _native(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_native(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _native(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if which is None:
        return None
    return getattr(value, which)


def value_as_string(value: AnyValue) -> str:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return str(value.int_value)
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "double_value":
        return repr(value.double_value)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if which is None:
        return ""
    return json.dumps(_native(value), separators=(",", ":"), ensure_ascii=False)


def attributes(kvs: Iterable[KeyValue]) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in kvs:
        value = kv.value
        # the common case inline: a non-empty string needs no WhichOneof call; everything else
        # (other types, and an empty string) goes through value_as_string
        text = value.string_value
        out[kv.key] = text if text else value_as_string(value)
    return out


def _int(attrs: dict[str, str], key: str) -> int:
    try:
        return int(attrs.get(key, "0") or 0)
    except ValueError:
        return 0


# a span without any of these attributes has no cost (span_cost would return _NO_COST)
_MAYBE_LLM = frozenset(("flowscope.cost.usd", "gen_ai.request.model", "gen_ai.response.model"))
_NO_COST: tuple[float, str] = (0.0, "")


def span_cost(attrs: dict[str, str], pricer: Pricer) -> tuple[float, str]:
    """Cost of one span: a provided ``flowscope.cost.usd`` wins, else price the token usage."""
    provided = attrs.get("flowscope.cost.usd")
    if provided:
        try:
            return float(provided), "provided"
        except ValueError:
            pass
    model = attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model") or ""
    if not model:
        return 0.0, ""
    usage = Usage(
        provider=attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system") or "",
        model=model,
        input_tokens=_int(attrs, "gen_ai.usage.input_tokens"),
        output_tokens=_int(attrs, "gen_ai.usage.output_tokens"),
        cache_read_tokens=_int(attrs, "gen_ai.usage.cache_read.input_tokens"),
    )
    return pricer.price(usage)


def traces_to_columns(
    requests: Sequence[ExportTraceServiceRequest], pricer: Pricer
) -> tuple[list[list[Any]], int]:
    """Flatten export requests into one list per column of :data:`SPAN_COLUMNS`."""
    cols: list[list[Any]] = [[] for _ in SPAN_COLUMNS]
    (
        ts,
        trace_id,
        span_id,
        parent,
        state,
        name,
        kind,
        service,
        res_attrs,
        scope_name,
        scope_version,
        span_attrs,
        duration,
        status,
        status_msg,
        ev_ts,
        ev_name,
        ev_attrs,
        link_trace,
        link_span,
        link_state,
        link_attrs,
        cost,
        cost_source,
    ) = cols
    count = 0
    for request in requests:
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            service_name = resource.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                s_name = scope_spans.scope.name
                s_version = scope_spans.scope.version
                for span in scope_spans.spans:
                    attrs = attributes(span.attributes)
                    start = span.start_time_unix_nano
                    ts.append(start)
                    trace_id.append(span.trace_id.hex())
                    span_id.append(span.span_id.hex())
                    parent.append(span.parent_span_id.hex())
                    state.append(span.trace_state)
                    name.append(span.name)
                    k = span.kind
                    kind.append(SPAN_KINDS[k] if 0 <= k < 6 else "Unspecified")
                    service.append(service_name)
                    res_attrs.append(resource)
                    scope_name.append(s_name)
                    scope_version.append(s_version)
                    span_attrs.append(attrs)
                    duration.append(max(0, span.end_time_unix_nano - start))
                    st = span.status
                    code = st.code
                    status.append(STATUS_CODES[code] if 0 <= code < 3 else "Unset")
                    status_msg.append(st.message)
                    events = span.events
                    if events:
                        ev_ts.append([e.time_unix_nano for e in events])
                        ev_name.append([e.name for e in events])
                        ev_attrs.append([attributes(e.attributes) for e in events])
                    else:  # most spans: skip three comprehensions over an empty container
                        ev_ts.append([])
                        ev_name.append([])
                        ev_attrs.append([])
                    links = span.links
                    if links:
                        link_trace.append([lk.trace_id.hex() for lk in links])
                        link_span.append([lk.span_id.hex() for lk in links])
                        link_state.append([lk.trace_state for lk in links])
                        link_attrs.append([attributes(lk.attributes) for lk in links])
                    else:
                        link_trace.append([])
                        link_span.append([])
                        link_state.append([])
                        link_attrs.append([])
                    usd, source = (
                        span_cost(attrs, pricer) if _MAYBE_LLM & attrs.keys() else _NO_COST
                    )
                    cost.append(usd)
                    cost_source.append(source)
                    count += 1
    return cols, count
