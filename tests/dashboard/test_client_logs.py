"""``CollectorClient.trace_logs`` and ``CollectorClient.logs`` (the log search) against a real
collector holding known log records, and against canned replies for what a real collector never
answers (a broken contract, no log store, no log search)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from canned_collector import Reply, canned_collector  # type: ignore[import-not-found]
from known_store import (  # type: ignore[import-not-found]
    KB_SERVICE,
    RAG,
    SEO,
    SERVICE,
    TRANSLATE,
    UNTRACED_LOG,
    Known,
)

from dashboard.client import CollectorClient, Filters
from dashboard.errors import CollectorResponseError
from dashboard.replies import LogRecord

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"


def test_client_reads_a_traces_log_records_as_sent_oldest_first(
    known_collector: tuple[str, Known],
) -> None:
    url, known = known_collector
    (run,) = known.of(RAG)
    page = CollectorClient(url).trace_logs(run.trace_id)
    assert page is not None and not page.truncated
    assert page.trace_id == run.trace_id
    shown = [(r.time_unix_nano, r.span_id, r.severity, r.body, r.service_name) for r in page.logs]
    sent = [(k.time_unix_nano, k.span_id, k.severity_text, k.body, k.service) for k in run.logs]
    assert shown == sent
    assert {r.service_name for r in page.logs} == {SERVICE, KB_SERVICE}
    assert all(r.resource["service.name"] == r.service_name for r in page.logs)
    assert {r.scope.name for r in page.logs} == {"flowscope.tests"}


def test_client_limit_keeps_the_oldest_records_and_says_truncated(
    known_collector: tuple[str, Known],
) -> None:
    url, known = known_collector
    run = known.of(SEO)[2]
    page = CollectorClient(url).trace_logs(run.trace_id, limit=1)
    assert page is not None and page.truncated
    assert [r.body for r in page.logs] == [run.logs[0].body]


def test_client_trace_without_logs_is_an_empty_page_not_none(
    known_collector: tuple[str, Known],
) -> None:
    url, known = known_collector
    run = known.of(SEO)[0]
    assert run.logs == []
    page = CollectorClient(url).trace_logs(run.trace_id)
    assert page is not None and page.logs == [] and not page.truncated


def _record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time_unix_nano": 1_700_000_000_000_000_000,
        "observed_time_unix_nano": 1_700_000_000_000_000_000,
        "trace_id": TRACE,
        "span_id": "00f067aa0ba902b7",
        "trace_flags": 1,
        "severity_text": "INFO",
        "severity_number": 9,
        "body": "hello",
        "attributes": {},
        "service_name": SERVICE,
        "resource": {"service.name": SERVICE},
        "scope": {"name": "app", "version": ""},
    }
    return {**record, **changes}


def _reply(body: object) -> Reply:
    return Reply(200, body if isinstance(body, bytes) else json.dumps(body).encode())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(
            {"trace_id": TRACE, "logs": [_record()]},
            ("broke the read-API contract", "truncated\n  Field required"),
            id="missing-truncated",
        ),
        pytest.param(
            {"trace_id": TRACE, "logs": [_record(severity_text=None)], "truncated": False},
            ("broke the read-API contract", "logs.0.severity_text\n  Input should be a valid str"),
            id="severity-not-a-string",
        ),
        pytest.param(
            {"trace_id": TRACE, "logs": [_record(span_id="xyz")], "truncated": False},
            ("broke the read-API contract", "logs.0.span_id\n  String should match pattern"),
            id="span-id-not-hex",
        ),
        pytest.param(
            {"trace_id": TRACE, "logs": [_record(trace_id=OTHER_TRACE)], "truncated": False},
            (f"broke the read-API contract: it answered with log records of trace {OTHER_TRACE}",),
            id="records-of-another-trace",
        ),
        pytest.param(
            {"trace_id": OTHER_TRACE, "logs": [], "truncated": False},
            (f"broke the read-API contract: it answered with log records of trace {OTHER_TRACE}",),
            id="page-of-another-trace",
        ),
        pytest.param(
            {"trace_id": TRACE, "logs": [_record(trace_id="")], "truncated": False},
            ("broke the read-API contract: it answered with log records of no trace",),
            id="records-outside-any-trace",
        ),
        pytest.param(b"<html>proxy error</html>", ("did not return JSON",), id="not-json"),
    ],
)
def test_client_rejects_a_logs_reply_that_breaks_the_contract(
    body: object, says: tuple[str, ...]
) -> None:
    path = f"/api/traces/{TRACE}/logs"
    with (
        canned_collector({path: _reply(body)}) as url,
        pytest.raises(CollectorResponseError) as caught,
    ):
        CollectorClient(url).trace_logs(TRACE)
    message = str(caught.value)
    assert message.startswith(f"collector at {url}: GET {path} ")
    for part in says:
        assert part in message


def test_client_accepts_a_reply_with_keys_it_does_not_know() -> None:
    body = {"trace_id": TRACE, "logs": [_record(event_name="x")], "truncated": False, "next": 1}
    with canned_collector({f"/api/traces/{TRACE}/logs": _reply(body)}) as url:
        page = CollectorClient(url).trace_logs(TRACE)
    assert page is not None and [r.body for r in page.logs] == ["hello"]


def test_client_returns_none_when_the_collector_has_no_log_store() -> None:
    with canned_collector({}) as url:  # every path answers 404, as before /api/.../logs existed
        assert CollectorClient(url).trace_logs(TRACE) is None


@pytest.mark.parametrize(
    ("text", "number", "severity", "level"),
    [
        ("WARNING", 13, "WARNING", "WARN"),  # Python logging's name is shown as sent
        ("", 17, "ERROR", "ERROR"),  # no text: the number's short name
        ("", 0, "", ""),  # unspecified
        ("critical", 0, "critical", "FATAL"),  # no number: the level from the text
        ("", 30, "", ""),  # outside OTel's 1..24 (stored as sent): shown, not an error
    ],
)
def test_log_severity_shown_as_sent_and_level_from_the_number(
    text: str, number: int, severity: str, level: str
) -> None:
    record = LogRecord.model_validate(_record(severity_text=text, severity_number=number))
    assert (record.severity, record.level) == (severity, level)


def _sent(known: Known) -> list[tuple[str, int, str, str, str, str]]:
    """Every record sent, newest first, as the search shows it."""
    return [
        (trace_id, k.time_unix_nano, k.span_id, k.severity_text, k.body, k.service)
        for trace_id, k in reversed(known.logs())
    ]


def _found(records: list[LogRecord]) -> list[tuple[str, int, str, str, str, str]]:
    return [
        (r.trace_id, r.time_unix_nano, r.span_id, r.severity, r.body, r.service_name)
        for r in records
    ]


def test_client_log_search_reads_every_record_newest_first_page_by_page(
    known_collector: tuple[str, Known],
) -> None:
    url, known = known_collector
    client = CollectorClient(url)
    first = client.logs(limit=1000)
    rest = client.logs(limit=1000, offset=1000)
    assert first is not None and rest is not None
    sent = _sent(known)
    assert len(sent) > 1000
    assert _found(first) == sent[:1000]
    assert _found(rest) == sent[1000:]
    assert first[0].trace_id == "" and first[0].span_id == ""  # made outside any trace
    assert first[0].body == UNTRACED_LOG


def test_client_log_search_filters_by_severity_text_trace_and_service(
    known_collector: tuple[str, Known],
) -> None:
    url, known = known_collector
    client = CollectorClient(url)
    sent = _sent(known)
    warn = client.logs(severity="WARN")  # a minimum: WARN and above
    assert warn is not None
    assert _found(warn) == [s for s in sent if s[3] in ("WARNING", "ERROR")]
    assert len(warn) == 5
    shards = client.logs(text="SHARD")  # case-insensitive, in the body
    assert shards is not None
    assert [r.body for r in shards] == [s[4] for s in sent if "shard" in s[4].lower()]
    assert len(shards) == 2
    failed = known.of(TRANSLATE)[1]
    own = client.logs(trace_id=failed.trace_id, severity="warn")
    assert own is not None
    assert [r.body for r in own] == [k.body for k in reversed(failed.logs[1:])]
    kb = client.logs(Filters(service=KB_SERVICE))
    assert kb is not None
    assert _found(kb) == [s for s in sent if s[5] == KB_SERVICE]
    later = client.logs(Filters(since=datetime.now(UTC).isoformat()))
    assert later == []


def test_client_log_search_sends_only_what_the_endpoint_takes(
    known_collector: tuple[str, Known],
) -> None:
    url, _ = known_collector
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    filters = Filters(since=since, service=SERVICE, workflow=SEO, status="error", attr="a=b")
    seen: list[str] = []
    with canned_collector({}, upstream=url, seen=seen) as proxy:
        found = CollectorClient(proxy).logs(
            filters, severity="WARN", text="slug", trace_id=TRACE, limit=5, offset=10
        )
    assert found == []
    (request,) = seen
    assert urlsplit(request).path == "/api/logs"
    assert parse_qs(urlsplit(request).query) == {
        "since": [since],
        "service": [SERVICE],
        "severity": ["warn"],
        "q": ["slug"],
        "trace_id": [TRACE],
        "limit": ["5"],
        "offset": ["10"],
    }


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(
            {"logs": [_record()], "limit": 100},
            ("broke the read-API contract", "offset\n  Field required"),
            id="missing-offset",
        ),
        pytest.param(
            {"logs": [_record(trace_id="xyz")], "limit": 100, "offset": 0},
            ("broke the read-API contract", "logs.0.trace_id\n  String should match pattern"),
            id="trace-id-not-hex",
        ),
        pytest.param(
            {"logs": [_record(body=None)], "limit": 100, "offset": 0},
            ("broke the read-API contract", "logs.0.body\n  Input should be a valid str"),
            id="body-not-a-string",
        ),
        pytest.param({"traces": []}, ("logs\n  Field required",), id="another-endpoints-reply"),
        pytest.param(b"<html>proxy error</html>", ("did not return JSON",), id="not-json"),
    ],
)
def test_client_rejects_a_log_search_reply_that_breaks_the_contract(
    body: object, says: tuple[str, ...]
) -> None:
    with (
        canned_collector({"/api/logs": _reply(body)}) as url,
        pytest.raises(CollectorResponseError) as caught,
    ):
        CollectorClient(url).logs()
    message = str(caught.value)
    assert message.startswith(f"collector at {url}: GET /api/logs ")
    for part in says:
        assert part in message


def test_client_log_search_accepts_records_outside_any_trace_and_unknown_keys() -> None:
    record = _record(trace_id="", span_id="", event_name="startup")
    body = {"logs": [record], "limit": 100, "offset": 0, "total": 1}
    with canned_collector({"/api/logs": _reply(body)}) as url:
        found = CollectorClient(url).logs()
    assert found is not None
    assert [(r.trace_id, r.span_id, r.body) for r in found] == [("", "", "hello")]


def test_client_log_search_is_none_when_the_collector_predates_it() -> None:
    with canned_collector({}) as url:  # every path answers 404, as before /api/logs existed
        assert CollectorClient(url).logs() is None
