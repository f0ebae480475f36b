"""ClickHouse SQL that flattens OTLP ``ExportTraceServiceRequest`` bytes into ``otel_traces`` rows.

ClickHouse reads the spooled requests with its ``Protobuf`` input format (length-delimited
messages, schema from :mod:`collector.otlp.proto_schema`), ``ARRAY JOIN``s resource spans →
scope spans → spans and turns attributes into ``Map(String, String)`` exactly like
:mod:`collector.otlp.rows` (the OTel Collector ClickHouse exporter's strings): strings as is,
``true``/``false``, decimal integers, doubles in Python ``repr`` form, bytes in base64, arrays
and key-value lists as compact JSON. ``input_format_protobuf_oneof_presence`` tells which member
of ``AnyValue``'s oneof was sent, so ``0``, ``false`` and ``""`` are told apart from "no value".

Two queries per batch:

- :func:`inspect_sql` counts the spans, says whether the batch needs the Python flattener
  (:data:`NESTING` levels of arrays / key-value lists are mapped; deeper values, oneof members
  this module does not know, and duplicate keys, whose last-wins order SQL would not reproduce,
  do) and lists the distinct cost-relevant attribute tuples of LLM spans, which Python prices;
- :func:`insert_sql` inserts the rows with those prices bound as literal arrays.
"""

from __future__ import annotations

import functools

from clickhouse_connect.driver.binding import format_query_value
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from collector.otlp.proto_schema import render_proto
from collector.otlp.rows import SPAN_COLUMNS, SPAN_KINDS, STATUS_CODES

# Levels of arrays / key-value lists inside an attribute value flattened in SQL (OTel SDKs send
# arrays of scalars, depth 1); anything deeper sends the batch through the Python flattener.
NESTING = 1

# The attributes span_cost reads, in a fixed order (the price key of an LLM span).
PRICE_ATTRIBUTES: tuple[str, ...] = (
    "flowscope.cost.usd",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
)
# a span with none of these is not priced (rows.span_cost gives 0.0, "")
_MAYBE_LLM = PRICE_ATTRIBUTES[:3]

_SCALARS = ("string_value", "bool_value", "int_value", "double_value", "bytes_value")
_STRINDEX = "string_value_strindex"
_NESTED = ("array_value", "kvlist_value")


def _quote(text: str) -> str:
    return str(format_query_value(text))


def _oneof_enum() -> str:
    members = AnyValue.DESCRIPTOR.oneofs_by_name["value"].fields
    values = ", ".join(f"{_quote(f.name)} = {f.number}" for f in members)
    return f"Enum8('none' = 0, {values})"


def _known_members(depth: int) -> tuple[str, ...]:
    members = AnyValue.DESCRIPTOR.oneofs_by_name["value"].fields
    names = {f.name for f in members}
    handled = (*_SCALARS, _STRINDEX, *(_NESTED if depth > 0 else ()))
    return tuple(name for name in handled if name in names)


# -- the input structure --------------------------------------------------------------------


def _any_type(depth: int) -> str:
    fields = [
        f"value {_oneof_enum()}",
        "string_value String",
        "bool_value Bool",
        "int_value Int64",
        "double_value Float64",
        "bytes_value String",
        f"{_STRINDEX} Int64",
    ]
    if depth > 0:
        fields.append(f"array_value Tuple(values Array({_any_type(depth - 1)}))")
        fields.append(f"kvlist_value Tuple(values {_kvs_type(depth - 1)})")
    return f"Tuple({', '.join(fields)})"


def _kvs_type(depth: int) -> str:
    return f"Array(Tuple(key String, value {_any_type(depth)}))"


@functools.cache
def structure() -> str:
    """The ``format``/``file`` table structure ClickHouse maps the protobuf fields onto."""
    kvs = _kvs_type(NESTING)
    # event and link attributes: scalars only (narrower columns, cheaper); an array there goes
    # to Python
    flat = _kvs_type(0)
    span = (
        "Tuple(trace_id String, span_id String, trace_state String, parent_span_id String, "
        "name String, kind Int32, start_time_unix_nano UInt64, end_time_unix_nano UInt64, "
        f"attributes {kvs}, "
        f"events Array(Tuple(time_unix_nano UInt64, name String, attributes {flat})), "
        "links Array(Tuple(trace_id String, span_id String, trace_state String, "
        f"attributes {flat})), "
        "status Tuple(message String, code Int32))"
    )
    return (
        f"resource_spans Array(Tuple(resource Tuple(attributes {kvs}), "
        "scope_spans Array(Tuple(scope Tuple(name String, version String), "
        f"spans Array({span})))))"
    )


def schema_text() -> str:
    """The ``.proto`` source ClickHouse decodes the requests with (write it to a file once)."""
    return render_proto(ExportTraceServiceRequest.DESCRIPTOR)


def format_settings(schema_path: str) -> dict[str, str]:
    """Settings that make ClickHouse parse the payloads with the schema file at ``schema_path``
    (an absolute path: embedded ClickHouse reads it directly, nothing is cached elsewhere)."""
    return {
        "format_schema": f"{schema_path}:ExportTraceServiceRequest",
        "input_format_protobuf_oneof_presence": "1",
    }


# -- attribute values as strings ------------------------------------------------------------


def _double_repr(x: str) -> str:
    """Python's ``repr(float)`` of the Float64 expression ``x`` when :func:`_double_plain` holds.

    In that range ``toString`` writes the same shortest round-trip digits as Python, positional;
    Python adds ``.0`` to an integral value.
    """
    return (
        f"if({x} = 0, if(toString({x}) = '-0', '-0.0', '0.0'), "
        f"if(position(toString({x}), '.') > 0, toString({x}), concat(toString({x}), '.0')))"
    )


def _double_plain(x: str) -> str:
    """Python writes ``x`` positionally (not ``1e-05``, ``1e+16``, ``inf``, ``nan``)."""
    return f"({x} = 0 OR (abs({x}) >= 1e-4 AND abs({x}) < 1e16))"


# Characters toJSONString escapes differently from json.dumps(ensure_ascii=False): upper-case
# hex in \u001F, and U+2028/U+2029 escaped at all. A string holding one goes to Python.
_JSON_MISMATCH = "[\\x0b\\x0e\\x0f\\x1a-\\x1f\\x{2028}\\x{2029}]"


def _json_string(s: str) -> str:
    """``json.dumps(s, ensure_ascii=False)`` of the String expression ``s`` (see above)."""
    return f"toJSONString({s})"


def _value_string(v: str, depth: int, in_json: bool = False) -> str:
    """``rows.value_as_string`` of the AnyValue tuple expression ``v``; with ``in_json``, its
    JSON inside an array or key-value list instead (``rows._native``: quoted strings and bytes,
    ``null`` for no value)."""
    text, data = f"{v}.string_value", f"base64Encode({v}.bytes_value)"
    if in_json:
        text, data = _json_string(text), f"concat('\"', {data}, '\"')"
    branches = [
        f"{v}.value = 'string_value', {text}",
        f"{v}.value = 'bool_value', if({v}.bool_value, 'true', 'false')",
        f"{v}.value = 'int_value', toString({v}.int_value)",
        f"{v}.value = 'double_value', {_double_repr(f'{v}.double_value')}",
        f"{v}.value = 'bytes_value', {data}",
        f"{v}.value = '{_STRINDEX}', toString({v}.{_STRINDEX})",
    ]
    if depth > 0:
        branches.append(f"{v}.value = 'array_value', {_json_array(v, depth)}")
        branches.append(f"{v}.value = 'kvlist_value', {_json_object(v, depth)}")
    return f"multiIf({', '.join(branches)}, {_quote('null' if in_json else '')})"


def _json_array(v: str, depth: int) -> str:
    x = f"x{depth}"
    items = f"arrayMap({x} -> {_value_string(x, depth - 1, in_json=True)}, {v}.array_value.values)"
    return f"concat('[', arrayStringConcat({items}, ','), ']')"


def _json_object(v: str, depth: int) -> str:
    kv = f"kv{depth}"
    items = (
        f"arrayMap({kv} -> concat({_json_string(f'{kv}.key')}, ':', "
        f"{_value_string(f'{kv}.value', depth - 1, in_json=True)}), {v}.kvlist_value.values)"
    )
    return "concat('{', arrayStringConcat(" + items + ", ','), '}')"


def _strings(values: str, depth: int = NESTING) -> str:
    """``Array(String)`` of ``value_as_string`` over an ``Array(AnyValue)`` expression."""
    return f"arrayMap(v -> {_value_string('v', depth)}, {values})"


# -- checks that send a batch to the Python flattener ---------------------------------------


def _value_unsupported(v: str, depth: int, in_json: bool) -> str:
    known = ", ".join(_quote(name) for name in ("none", *_known_members(depth)))
    check = (
        f"{v}.value NOT IN ({known})"
        f" OR ({v}.value = 'double_value' AND NOT {_double_plain(f'{v}.double_value')})"
    )
    if in_json:  # inside an array or key-value list: written by toJSONString
        mismatch = f"match({v}.string_value, {_quote(_JSON_MISMATCH)})"
        check += f" OR ({v}.value = 'string_value' AND {mismatch})"
    if depth > 0:
        x = f"u{depth}"
        inner = _value_unsupported(x, depth - 1, in_json=True)
        check += (
            f" OR arrayExists({x} -> {inner}, {v}.array_value.values)"
            f" OR {_kvs_unsupported(f'{v}.kvlist_value.values', depth - 1, in_json=True)}"
        )
    return f"({check})"


def _kvs_unsupported(kvs: str, depth: int = NESTING, in_json: bool = False) -> str:
    """Duplicate keys, or a value SQL does not flatten like Python, in key-values ``kvs``."""
    w = f"w{depth}"
    check = (
        f"arrayUniq({kvs}.key) != length({kvs}) "
        f"OR arrayExists({w} -> {_value_unsupported(w, depth, in_json)}, {kvs}.value)"
    )
    if in_json:  # the keys of a nested key-value list are JSON-escaped too
        check += f" OR arrayExists(key -> match(key, {_quote(_JSON_MISMATCH)}), {kvs}.key)"
    return f"({check})"


# -- queries ---------------------------------------------------------------------------------

# One row per span. Each ARRAY JOIN level joins only sub-columns (``…spans.trace_id``), never
# a whole tuple: a tuple left in the block would be copied once per row of the next level.
_SPAN_FIELDS = {
    "trace_id": "trace_id",
    "span_id": "span_id",
    "trace_state": "trace_state",
    "parent_span_id": "parent_span_id",
    "name": "name",
    "kind": "kind",
    "start_ns": "start_time_unix_nano",
    "end_ns": "end_time_unix_nano",
    "kvs": "attributes",
    "events": "events",
    "links": "links",
    "status_message": "status.message",
    "status_code": "status.code",
}


def _duplicate_keys(levels: int, key_lists: str) -> str:
    """Some key list ``levels`` arrays deep in ``key_lists`` repeats a key."""
    if levels == 0:
        return f"arrayUniq({key_lists}) != length({key_lists})"
    x = f"x{levels}"
    return f"arrayExists({x} -> {_duplicate_keys(levels - 1, x)}, {key_lists})"


def _resource_checks() -> dict[str, str]:
    """Per resource (arrays over ``resource_spans``, computed before the rows multiply): does
    any attribute of its spans, events or links need the Python flattener?"""
    spans = "resource_spans.scope_spans.spans"
    resources = "resource_spans.resource.attributes"
    checks = {"res_unsupported": f"arrayMap(r -> {_kvs_unsupported('r')}, {resources})"}
    for name, path, depth, levels in (
        ("span", f"{spans}.attributes", NESTING, 2),
        ("event", f"{spans}.events.attributes", 0, 3),
        ("link", f"{spans}.links.attributes", 0, 3),
    ):
        # values: all of the resource's values in one flat array; keys: per key list
        value = _value_unsupported("w", depth, in_json=False)
        checks[f"{name}_values_unsupported"] = (
            f"arrayMap(r -> arrayExists(w -> {value}, arrayFlatten(r)), {path}.value)"
        )
        checks[f"{name}_keys_unsupported"] = (
            f"arrayMap(r -> {_duplicate_keys(levels, 'r')}, {path}.key)"
        )
    # times past 2262 do not fit DateTime64(9); Python's insert refuses them, SQL would wrap
    for name, path, levels in (
        ("start", f"{spans}.start_time_unix_nano", 1),
        ("event_time", f"{spans}.events.time_unix_nano", 2),
    ):
        checks[f"{name}_unsupported"] = f"arrayMap(r -> {_after_2262(levels, 'r')}, {path})"
    return checks


def _after_2262(levels: int, times: str) -> str:
    """Some UInt64 nanosecond time ``levels`` arrays deep in ``times`` exceeds Int64."""
    if levels == 0:
        return f"arrayExists(t -> t > {2**63 - 1}, {times})"
    x = f"t{levels}"
    return f"arrayExists({x} -> {_after_2262(levels - 1, x)}, {times})"


def _source(path: str) -> str:
    per_resource = ", ".join(
        f"resource_spans.scope_spans.spans.{field} AS rs_{alias}"
        for alias, field in _SPAN_FIELDS.items()
    )
    per_scope = ", ".join(f"rs_{alias} AS ss_{alias}" for alias in _SPAN_FIELDS)
    per_span = ", ".join(f"ss_{alias} AS {alias}" for alias in _SPAN_FIELDS)
    checks = ", ".join(f"{expr} AS {name}" for name, expr in _resource_checks().items())
    return (
        f"file({_quote(path)}, 'Protobuf', {_quote(structure())})\n"
        # resource attributes are decoded per resource (not per span), then array-joined
        "ARRAY JOIN resource_spans.resource.attributes.key AS res_keys, "
        f"arrayMap(r -> {_strings('r')}, resource_spans.resource.attributes.value) AS res_values, "
        f"{checks}, "
        f"resource_spans.scope_spans.scope.name AS rs_scope_name, "
        f"resource_spans.scope_spans.scope.version AS rs_scope_version, {per_resource}\n"
        "ARRAY JOIN rs_scope_name AS scope_name, rs_scope_version AS scope_version, "
        f"{per_scope}\n"
        f"ARRAY JOIN {per_span}"
    )


def _nested_strings(kvs_list: str) -> str:
    return f"arrayMap(a -> {_strings('a.value', 0)}, {kvs_list})"


def _decoded() -> dict[str, tuple[str, str]]:
    """The stage's columns: name → (expression over :func:`_source`, type).

    Attribute values become strings here, once; the maps, ids and costs are built from the
    stored arrays by :func:`insert_sql` (cheap, and each array is computed exactly once).
    """
    unsupported = " OR ".join(_resource_checks())
    strings, nested = "Array(String)", "Array(Array(String))"
    return {
        "row": ("rowNumberInAllBlocks()", "UInt64"),
        "res_keys": ("res_keys", strings),
        "res_values": ("res_values", strings),
        "scope_name": ("scope_name", "String"),
        "scope_version": ("scope_version", "String"),
        "trace_id": ("trace_id", "String"),
        "span_id": ("span_id", "String"),
        "trace_state": ("trace_state", "String"),
        "parent_span_id": ("parent_span_id", "String"),
        "name": ("name", "String"),
        "kind": ("kind", "Int32"),
        "start_ns": ("start_ns", "UInt64"),
        "end_ns": ("end_ns", "UInt64"),
        "status_message": ("status_message", "String"),
        "status_code": ("status_code", "Int32"),
        "keys": ("kvs.key", strings),
        "values": (_strings("kvs.value"), strings),
        "ev_times": ("events.time_unix_nano", "Array(UInt64)"),
        "ev_names": ("events.name", strings),
        "ev_keys": ("arrayMap(a -> a.key, events.attributes)", nested),
        "ev_values": (_nested_strings("events.attributes"), nested),
        "link_trace_ids": ("links.trace_id", strings),
        "link_span_ids": ("links.span_id", strings),
        "link_states": ("links.trace_state", strings),
        "link_keys": ("arrayMap(a -> a.key, links.attributes)", nested),
        "link_values": (_nested_strings("links.attributes"), nested),
        "unsupported": (unsupported, "UInt8"),
    }


def _map(keys: str, values: str) -> str:
    return f"CAST(({keys}, {values}), 'Map(String, String)')"


def _lookup(keys: str, values: str, key: str) -> str:
    return f"{values}[indexOf({keys}, {_quote(key)})]"


_IS_LLM = f"hasAny(keys, [{', '.join(_quote(k) for k in _MAYBE_LLM)}])"


def _span_exprs() -> dict[str, str]:
    """``otel_traces`` columns (but the cost) as expressions over the stage."""

    def ids(expr: str) -> str:
        return f"lower(hex({expr}))"

    def nanos(expr: str) -> str:
        return f"fromUnixTimestamp64Nano(toInt64({expr}))"

    kinds = ", ".join(_quote(k) for k in SPAN_KINDS)
    codes = ", ".join(_quote(c) for c in STATUS_CODES)
    return {
        "Timestamp": nanos("start_ns"),
        "TraceId": ids("trace_id"),
        "SpanId": ids("span_id"),
        "ParentSpanId": ids("parent_span_id"),
        "TraceState": "trace_state",
        "SpanName": "name",
        "SpanKind": f"if(kind BETWEEN 0 AND 5, [{kinds}][kind + 1], 'Unspecified')",
        "ServiceName": _lookup("res_keys", "res_values", "service.name"),
        "ResourceAttributes": _map("res_keys", "res_values"),
        "ScopeName": "scope_name",
        "ScopeVersion": "scope_version",
        "SpanAttributes": _map("keys", "values"),
        "Duration": "if(end_ns > start_ns, end_ns - start_ns, 0)",
        "StatusCode": f"if(status_code BETWEEN 0 AND 2, [{codes}][status_code + 1], 'Unset')",
        "StatusMessage": "status_message",
        "Events.Timestamp": f"arrayMap(t -> {nanos('t')}, ev_times)",
        "Events.Name": "ev_names",
        "Events.Attributes": f"arrayMap((k, v) -> {_map('k', 'v')}, ev_keys, ev_values)",
        "Links.TraceId": f"arrayMap(i -> {ids('i')}, link_trace_ids)",
        "Links.SpanId": f"arrayMap(i -> {ids('i')}, link_span_ids)",
        "Links.TraceState": "link_states",
        "Links.Attributes": f"arrayMap((k, v) -> {_map('k', 'v')}, link_keys, link_values)",
    }


def stage_ddl(stage: str) -> str:
    """A session-scoped Memory table holding one batch's decoded spans."""
    columns = ", ".join(f"{name} {type_}" for name, (_, type_) in _decoded().items())
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ({columns}) ENGINE = Memory"


def _settings_clause(settings: dict[str, str]) -> str:
    return ", ".join(f"{name} = {_quote(value)}" for name, value in settings.items())


# Every branch of a multiIf is evaluated for every value: a lazily evaluated branch would first
# filter the wide AnyValue columns, which costs more than computing the cheap branches for all.
# JSON as json.dumps writes it: no escaped "/", integers unquoted.
_QUERY_SETTINGS = {
    "short_circuit_function_evaluation": "disable",
    "output_format_json_escape_forward_slashes": "0",
    "output_format_json_quote_64bit_integers": "0",
}


def stage_sql(stage: str, path: str, schema_path: str, streams: int = 1) -> str:
    """Decode the length-delimited requests in the file(s) ``path`` (a glob) into ``stage``,
    one thread per file up to ``streams``."""
    decoded = _decoded()
    columns = ", ".join(decoded)
    select = ",\n  ".join(f"{expr} AS {name}" for name, (expr, _) in decoded.items())
    settings = {
        **format_settings(schema_path),
        **_QUERY_SETTINGS,
        "max_threads": str(streams),
        "max_insert_threads": str(streams),
    }
    return (
        f"INSERT INTO {stage} ({columns})\n"
        f"SELECT\n  {select}\nFROM {_source(path)}\n"
        f"SETTINGS {_settings_clause(settings)}"
    )


def inspect_sql(stage: str) -> str:
    """``spans, needs_python`` of the staged batch."""
    return f"SELECT count() AS spans, max(unsupported) AS needs_python FROM {stage}"


def llm_spans_sql(stage: str) -> str:
    """``row, [price attribute values…]`` of each staged span ``rows.span_cost`` would price."""
    values = ", ".join(_lookup("keys", "values", k) for k in PRICE_ATTRIBUTES)
    return f"SELECT row, [{values}] AS price_values FROM {stage} WHERE {_IS_LLM}"


def prices_ddl(prices: str) -> str:
    """A session-scoped Memory table of one batch's span costs, by stage row."""
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {prices} "
        "(row UInt64, cost Float64, source String) ENGINE = Memory"
    )


def insert_sql(table: str, stage: str, prices: str, settings: dict[str, str]) -> str:
    """``INSERT INTO table … SELECT`` of the staged spans with their costs from ``prices``."""
    exprs = _span_exprs()
    exprs["CostUsd"] = "p.cost"
    exprs["CostSource"] = "p.source"
    columns = ", ".join(f"`{name}`" for name in SPAN_COLUMNS)
    select = ",\n  ".join(f"{expr} AS `{name}`" for name, expr in exprs.items())
    # one thread keeps the row order, hence the blocks and their dedup tokens, stable on replay;
    # spans without a price row get 0 and ""
    settings = {**settings, **_QUERY_SETTINGS, "max_threads": "1", "join_use_nulls": "0"}
    return (
        f"INSERT INTO {table} ({columns})\n"
        f"SELECT\n  {select}\nFROM {stage} AS s LEFT ANY JOIN {prices} AS p USING (row)\n"
        f"SETTINGS {_settings_clause(settings)}"
    )
