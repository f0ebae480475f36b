"""Every page under Streamlit's AppTest against a real collector holding known spans.

The numbers on the page must equal the numbers the store returns through the read API, and the
ones that were sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from canned_collector import Reply, canned_collector  # type: ignore[import-not-found]
from known_store import (  # type: ignore[import-not-found]
    KB_SERVICE,
    RAG,
    SEO,
    SERVICE,
    STREAM_CHUNKS,
    TRANSLATE,
    UNTRACED_LOG,
    Known,
    KnownLog,
    KnownRun,
)
from streamlit.testing.v1 import AppTest

from dashboard.ui import fmt_clock, fmt_stamp, fmt_usd
from dashboard.views.logs import PAGE_SIZE

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def start(url: str, monkeypatch: pytest.MonkeyPatch, page: str, **query: str) -> AppTest:
    """The dashboard on ``page`` as if ``query`` was pasted in the URL."""
    monkeypatch.setenv("FLOWSCOPE_COLLECTOR_URL", url)
    monkeypatch.setenv("FLOWSCOPE_JAEGER_URL", "http://jaeger.test:16686")
    monkeypatch.setenv(
        "FLOWSCOPE_LOGS_URL_TEMPLATE", "http://logs.test/explore?q={trace_id}&span={span_id}"
    )
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(query)  # as if the URL was pasted: before the session's first run
    at.run()
    if page != "overview":
        at.query_params.update(query)
        at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, at.exception
    return at


def app(url: str, monkeypatch: pytest.MonkeyPatch, page: str, **query: str) -> AppTest:
    """:func:`start`, and the page shows no error."""
    at = start(url, monkeypatch, page, **query)
    assert not at.error, [e.value for e in at.error]
    return at


@dataclass
class Dash:
    """The dashboard against the session's collector with known data."""

    url: str
    known: Known
    monkeypatch: pytest.MonkeyPatch

    def open(self, page: str, **query: str) -> AppTest:
        return app(self.url, self.monkeypatch, page, **query)


@pytest.fixture
def dash(known_collector: tuple[str, Known], monkeypatch: pytest.MonkeyPatch) -> Dash:
    return Dash(*known_collector, monkeypatch)


def api(url: str, path: str, **params: Any) -> Any:
    return httpx.get(f"{url}{path}", params=params, timeout=10).json()


def frame(at: AppTest, column: str) -> Any:
    """The first dataframe on the page that has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with column {column!r}")


def log_tables(at: AppTest) -> dict[str, Any]:
    """The trace view's log tables: the whole trace's (``"trace"``, it has a span column) and the
    selected span's (``"span"``), when shown."""
    found: dict[str, Any] = {}
    for df in at.dataframe:
        if "message" in df.value.columns:
            found["trace" if "span" in df.value.columns else "span"] = df.value
    return found


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_headline_equals_store_and_sent_totals(dash: Dash) -> None:
    url, known = dash.url, dash.known
    at = dash.open("overview")
    shown = metrics(at)
    stored = api(url, "/api/stats/overview")
    assert stored["runs"] == len(known.runs) == 6
    assert shown["Runs"] == str(stored["runs"])
    assert shown["Tokens"] == f"{stored['total_tokens']:,}" == "2,060"
    assert shown["Total cost"] == fmt_usd(stored["total_cost_usd"]) == "$0.026"
    assert shown["Error rate"] == f"{stored['error_rate']:.1%}" == "16.7%"
    assert shown["p95"] == f"{stored['p95_ms']:,.0f} ms"
    links = [m.proto.label for m in at.get("page_link")]
    assert any("translation_workflow · Translate" in label for label in links), links


def test_overview_filtered_to_one_workflow(dash: Dash) -> None:
    url, known = dash.url, dash.known
    at = dash.open("overview", wf=SEO)
    stored = api(url, "/api/stats/overview", workflow=SEO)
    shown = metrics(at)
    assert shown["Runs"] == str(stored["runs"]) == str(len(known.of(SEO))) == "3"
    assert shown["Total cost"] == fmt_usd(stored["total_cost_usd"]) == "$0.006"
    assert shown["Error rate"] == "0.0%"


def test_overview_sampled_vs_true_table(dash: Dash) -> None:
    known = dash.known
    at = dash.open("overview")
    table = frame(at, "figure")
    cost = table[table["figure"] == "Cost USD"].iloc[0]
    assert cost["sampled"] == pytest.approx(known.cost_usd)
    tokens = table[table["figure"] == "Input tokens"].iloc[0]
    assert tokens["sampled"] == known.input_tokens == 1600


def test_nodes_table_equals_store_row_by_row(dash: Dash) -> None:
    url = dash.url
    at = dash.open("nodes")
    table = frame(at, "cost_share")
    stored = api(url, "/api/stats/nodes")["nodes"]
    assert len(table) == len(stored) == 8
    for node in stored:
        row = table[(table["workflow"] == node["workflow"]) & (table["node_id"] == node["node_id"])]
        assert len(row) == 1, node
        row = row.iloc[0]
        for key in ("count", "errors", "input_tokens", "output_tokens", "title", "node_type"):
            assert row[key] == node[key], key
        for key in ("p50_ms", "p95_ms", "cost_usd"):
            assert row[key] == pytest.approx(node[key]), key
    assert table["cost_share"].sum() == pytest.approx(1.0)
    slug = table[table["node_id"] == "1712"].iloc[0]
    assert slug["cost_share"] == pytest.approx(0.006 / 0.026)
    assert list(table["cost_usd"]) == sorted(table["cost_usd"], reverse=True)


def test_nodes_deep_link_filters_and_opens_node_detail(dash: Dash) -> None:
    known = dash.known
    at = dash.open("nodes", types="llm", node=f"{TRANSLATE}/2001")
    table = frame(at, "cost_share")
    assert set(table["node_type"]) == {"llm"}
    assert metrics(at)["Errors"] == "1"
    assert metrics(at)["Runs"] == "2"
    targets = {link.proto.query_string for link in at.get("page_link")}
    assert targets == {f"trace={r.trace_id}&span_node=2001" for r in known.of(TRANSLATE)}
    csv = at.get("download_button")[0].proto
    assert csv.label == "Download CSV"


def test_models_table_equals_store(dash: Dash) -> None:
    url = dash.url
    at = dash.open("models")
    table = frame(at, "price_source")
    stored = {m["model"]: m for m in api(url, "/api/stats/models")["models"]}
    assert set(table["model"]) == set(stored) == {"gpt-4o", "gpt-4o-mini"}
    for _, row in table.iterrows():
        s = stored[row["model"]]
        assert (row["calls"], row["input_tokens"], row["output_tokens"]) == (
            s["calls"],
            s["input_tokens"],
            s["output_tokens"],
        )
        assert row["cost_usd"] == pytest.approx(s["cost_usd"])
        assert row["price_source"] == s["price_source"] == "provided"
    assert metrics(at)["Calls"] == "5"


def test_traces_search_lists_stored_traces_and_filters_by_status(dash: Dash) -> None:
    known = dash.known
    at = dash.open("traces")
    table = frame(at, "open")
    assert set(table["trace_id"]) == {r.trace_id for r in known.runs}
    failed = dash.open("traces", status="error")
    table = frame(failed, "open")
    assert list(table["trace_id"]) == [r.trace_id for r in known.runs if r.failed]


def test_trace_view_shows_hierarchy_node_io_and_infra_links(dash: Dash) -> None:
    url, known = dash.url, dash.known
    run = known.of(SEO)[2]
    at = dash.open("traces", trace=run.trace_id, span_node="1712")
    shown = metrics(at)
    stored = api(url, f"/api/traces/{run.trace_id}")["spans"]
    assert shown["Spans"] == str(len(stored)) == "5"
    assert shown["Tokens in / out"] == "300 / 20"
    assert shown["Cost"] == "$0.003"
    # the selected span is the LLM node's, in its real place in the hierarchy
    span_box = at.selectbox(key="_url_span")
    assert span_box.value == run.node_spans["1712"]
    assert at.query_params["span"] == run.node_spans["1712"]  # the deep link names the span
    options = span_box.options  # labels, in tree order
    assert options[0].startswith("invoke_workflow") and options[2] == "· llm Generate slug"
    assert options[3] == "· · chat gpt-4o-mini"
    assert any("observability-part-2" in str(j.proto.body) for j in at.json)
    hrefs = [b.proto.url for b in at.get("link_button")]
    assert f"http://jaeger.test:16686/trace/{run.trace_id}" in hrefs
    assert (f"http://logs.test/explore?q={run.trace_id}&span={run.node_spans['1712']}") in hrefs


def test_empty_retrieval_span_is_flagged_with_its_infra_links(dash: Dash) -> None:
    known = dash.known
    (run,) = known.of(RAG)
    at = dash.open("traces", trace=run.trace_id, span=run.retrieval_span)
    assert "no chunks" in at.warning[0].value
    assert "How do I reset my password?" in at.warning[0].value
    shards = at.warning[1].value
    assert "(lost: kb-2):\n- shard kb-2 attempt 1: timed out after 300 ms" in shards
    hrefs = [b.proto.url for b in at.get("link_button")]
    assert f"http://logs.test/explore?q={run.trace_id}&span={run.retrieval_span}" in hrefs


def logs_of(run: KnownRun, span_id: str | None = None) -> list[str]:
    return [r.body for r in run.logs if span_id is None or r.span_id == span_id]


def test_trace_logs_section_lists_the_traces_records_oldest_first(dash: Dash) -> None:
    url, run = dash.url, dash.known.of(SEO)[2]
    at = dash.open("traces", trace=run.trace_id, span_node="1712")
    logs = log_tables(at)["trace"]
    stored = api(url, f"/api/traces/{run.trace_id}/logs")["logs"]
    assert list(logs["message"]) == [r["body"] for r in stored] == logs_of(run)
    assert len(logs) == 2
    assert list(logs["time"]) == [fmt_clock(r.time_unix_nano) for r in run.logs]
    assert list(logs["severity"]) == ["INFO", "INFO"]
    assert list(logs["span"]) == ["llm Generate slug", "end End"]  # span names, not ids
    assert set(logs["service"]) == {SERVICE}
    assert "2 record(s), oldest first · 0 error(s) · 0 warning(s)" in "\n".join(at.caption.values)
    assert not at.warning  # not truncated


def test_span_details_show_the_selected_spans_log_records(dash: Dash) -> None:
    run = dash.known.of(SEO)[2]
    at = dash.open("traces", trace=run.trace_id, span_node="1712")
    own = log_tables(at)["span"]
    assert list(own["message"]) == logs_of(run, run.node_spans["1712"])
    assert list(own["message"]) == ["generating slug for 'Observability part 2'"]
    at.selectbox(key="_url_span").select(run.node_spans["1713"]).run()
    assert list(log_tables(at)["span"]["message"]) == ["slug ready: observability-part-2"]
    assert len(log_tables(at)["trace"]) == 2  # the trace's section does not follow the span
    root = at.selectbox(key="_url_span").options[0]
    at.selectbox(key="_url_span").select_index(0).run()
    assert root.startswith("invoke_workflow")
    assert set(log_tables(at)) == {"trace"}
    assert "None for this span; the trace's 2 are listed below." in "\n".join(at.caption.values)


def test_retrieval_span_shows_the_vector_stores_own_log_records(dash: Dash) -> None:
    (run,) = dash.known.of(RAG)
    at = dash.open("traces", trace=run.trace_id, span=run.retrieval_span)
    own = log_tables(at)["span"]
    assert list(own["message"]) == logs_of(run, run.retrieval_span)
    assert list(own["service"]) == [KB_SERVICE, KB_SERVICE]
    assert list(own["severity"]) == ["WARNING", "INFO"]
    logs = log_tables(at)["trace"]
    assert list(logs["span"]) == [
        "retrieve support-kb",
        "knowledge-retrieval Search docs",
        "retrieve support-kb",
    ]
    assert "3 record(s), oldest first · 0 error(s) · 2 warning(s)" in "\n".join(at.caption.values)
    hrefs = [b.proto.url for b in at.get("link_button")]  # the log system's links stay
    assert f"http://logs.test/explore?q={run.trace_id}&span={run.retrieval_span}" in hrefs


def test_trace_without_log_records_says_how_to_send_them(dash: Dash) -> None:
    run = dash.known.of(SEO)[0]
    at = dash.open("traces", trace=run.trace_id)
    (info,) = at.info
    assert info.value.startswith("No log records for this trace")
    assert "OTEL_LOGS_EXPORTER=otlp" in info.value and f"{dash.url}/v1/logs" in info.value
    assert "No log records for this span." in "\n".join(at.caption.values)
    assert log_tables(at) == {}


def test_truncated_trace_logs_show_the_oldest_and_say_so(dash: Dash) -> None:
    run = dash.known.of(TRANSLATE)[0]
    assert len(run.logs) == STREAM_CHUNKS > 1000
    at = dash.open("traces", trace=run.trace_id)
    logs = log_tables(at)["trace"]
    assert list(logs["message"]) == logs_of(run)[:1000]
    assert logs["message"].iloc[-1] == "stream chunk 1000"
    (warning,) = at.warning
    assert warning.value.startswith("Truncated: these are the first 1,000 log records")
    assert "with the Logs button above" in warning.value  # FLOWSCOPE_LOGS_URL_TEMPLATE is set


def test_trace_view_against_a_collector_without_log_store(dash: Dash) -> None:
    """A collector from before ``/api/traces/{id}/logs`` answers 404 there: the trace view
    still shows the trace, its links, and says why there are no logs."""
    run = dash.known.of(SEO)[2]
    path = f"/api/traces/{run.trace_id}/logs"
    missing = Reply(404, b'{"detail":"Not Found"}')
    with canned_collector({path: missing}, upstream=dash.url) as older:
        at = app(older, dash.monkeypatch, "traces", trace=run.trace_id, span_node="1712")
    assert metrics(at)["Spans"] == "5"
    (info,) = at.info
    assert info.value.startswith(f"The collector at `{older}` keeps no log records")
    assert log_tables(at) == {}
    hrefs = [b.proto.url for b in at.get("link_button")]
    assert f"http://logs.test/explore?q={run.trace_id}&span={run.node_spans['1712']}" in hrefs


def newest_first(known: Known) -> list[tuple[str, KnownLog]]:
    return list(reversed(known.logs()))


def link_of(trace_id: str, record: KnownLog) -> str | None:
    """The trace view's deep link a record's row must carry (None outside any trace)."""
    return f"./traces?trace={trace_id}&span={record.span_id}" if trace_id else None


def links(table: Any) -> list[str | None]:
    """The table's trace links, None where a row has none (a missing cell may read as NaN)."""
    return [link if isinstance(link, str) else None for link in table["trace"]]


def test_logs_page_lists_every_record_newest_first_a_page_at_a_time(dash: Dash) -> None:
    sent = newest_first(dash.known)
    assert len(sent) > PAGE_SIZE
    at = dash.open("logs")
    for page in (1, 2):
        shown = frame(at, "message")
        expected = sent[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        assert list(shown["message"]) == [k.body for _, k in expected]
        assert list(shown["time"]) == [fmt_stamp(k.time_unix_nano) for _, k in expected]
        assert list(shown["severity"]) == [k.severity_text for _, k in expected]
        assert list(shown["service"]) == [k.service for _, k in expected]
        assert links(shown) == [link_of(t, k) for t, k in expected]
        assert list(shown["span"]) == [k.span_id or "—" for _, k in expected]
        first = (page - 1) * PAGE_SIZE + 1
        captions = "\n".join(at.caption.values)
        assert f"Records {first}–{first + PAGE_SIZE - 1}, newest first" in captions
        assert f"older ones on page {page + 1}" in captions
        older = next(b for b in at.button if b.label == "Older")
        older.click().run()
        assert at.number_input(key="lpage").value == page + 1
    newer = next(b for b in at.button if b.label == "Newer")  # from page 3 back to page 2
    newer.click().run()
    assert at.number_input(key="lpage").value == 2
    assert list(frame(at, "message")["message"]) == [
        k.body for _, k in sent[PAGE_SIZE : 2 * PAGE_SIZE]
    ]
    assert at.query_params["lpage"] == "2"  # the page is in the URL
    at.text_input(key="lq").input("stream chunk").run()  # a new search starts at page 1
    assert at.number_input(key="lpage").value == 1
    assert frame(at, "message")["message"].iloc[0] == f"stream chunk {STREAM_CHUNKS}"


def test_logs_page_last_page_has_the_oldest_records_and_no_older_button(dash: Dash) -> None:
    sent = newest_first(dash.known)
    last = (len(sent) - 1) // PAGE_SIZE + 1
    at = dash.open("logs", lpage=str(last))
    expected = sent[(last - 1) * PAGE_SIZE :]
    assert list(frame(at, "message")["message"]) == [k.body for _, k in expected]
    assert [b.label for b in at.button] == ["Newer"]
    assert "older ones" not in "\n".join(at.caption.values)


def test_logs_page_record_outside_any_trace_has_no_trace_link(dash: Dash) -> None:
    at = dash.open("logs", lq="redis")
    shown = frame(at, "message")
    assert list(shown["message"]) == [UNTRACED_LOG]
    assert links(shown) == [None] and list(shown["span"]) == ["—"]


def test_logs_page_filters_by_minimum_severity_text_trace_and_service(dash: Dash) -> None:
    sent = newest_first(dash.known)
    at = dash.open("logs", lsev="warn")
    warn = [k.body for _, k in sent if k.severity_text in ("WARNING", "ERROR")]
    assert list(frame(at, "message")["message"]) == warn and len(warn) == 5
    at = dash.open("logs", lsev="error")
    assert list(frame(at, "message")["message"]) == ["provider timeout after 30 s"]
    at = dash.open("logs", lq="SHARD")
    shards = [k.body for _, k in sent if "shard" in k.body.lower()]
    assert list(frame(at, "message")["message"]) == shards and len(shards) == 2
    at = dash.open("logs", lsev="warn", lq="shard")
    assert list(frame(at, "message")["message"]) == [shards[1]]  # the WARNING one
    run = dash.known.of(SEO)[2]
    at = dash.open("logs", ltrace=run.trace_id.upper())
    assert list(frame(at, "message")["message"]) == [k.body for k in reversed(run.logs)]
    at = dash.open("logs", service=KB_SERVICE)
    kb = [k.body for _, k in sent if k.service == KB_SERVICE]
    assert list(frame(at, "message")["message"]) == kb and len(kb) == 2


def test_logs_page_links_a_record_to_its_trace_and_span(dash: Dash) -> None:
    run = dash.known.of(TRANSLATE)[1]
    (record,) = [k for k in run.logs if k.severity_text == "ERROR"]
    at = dash.open("logs", lq="provider timeout")
    (link,) = frame(at, "message")["trace"]
    assert link == f"./traces?trace={run.trace_id}&span={run.node_spans['2001']}"
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    trace = start(dash.url, dash.monkeypatch, "traces", **query)  # where the link leads
    assert [e.value for e in trace.error] == [record.body]  # the failed span's status message
    assert trace.selectbox(key="_url_span").value == record.span_id == run.node_spans["2001"]
    assert record.body in list(log_tables(trace)["span"]["message"])


def test_logs_page_says_when_nothing_matches(dash: Dash) -> None:
    at = dash.open("logs", lq="no record says this")
    (info,) = at.info
    assert info.value.startswith("No log record matches these filters")
    assert not at.dataframe
    at = dash.open("logs", lsev="fatal")
    assert at.info[0].value.startswith("No log record matches these filters")
    at = dash.open("logs", lpage="99")
    assert at.info[0].value.startswith("No records on page 99")
    at.button[0].click().run()
    assert at.number_input(key="lpage").value == 1
    assert len(frame(at, "message")) == PAGE_SIZE


def test_logs_page_refuses_a_malformed_trace_id(dash: Dash) -> None:
    at = start(dash.url, dash.monkeypatch, "logs", ltrace="not-a-trace")
    assert [e.value for e in at.error] == [
        "'not-a-trace' is not a trace id: expected 32 hexadecimal digits."
    ]
    assert not at.dataframe


def test_logs_page_against_a_collector_without_log_search(dash: Dash) -> None:
    """A collector from before ``/api/logs`` answers 404 there: a note, not an error."""
    missing = Reply(404, b'{"detail":"Not Found"}')
    with canned_collector({"/api/logs": missing}, upstream=dash.url) as older:
        at = app(older, dash.monkeypatch, "logs")
    (info,) = at.info
    assert info.value.startswith(f"The collector at `{older}` cannot search log records")
    assert "404" in info.value and not at.dataframe


def test_runs_diff_shows_deltas_and_highlights(dash: Dash) -> None:
    known = dash.known
    first, last = known.of(SEO)[0], known.of(SEO)[2]
    at = dash.open("diff", dwf=SEO, a=first.trace_id, b=last.trace_id)
    shown = metrics(at)
    assert shown["Tokens B − A"] == "+200"
    assert shown["Cost B − A"] == "+$0.002"
    assert shown["Latency B − A"] == "+200.0 ms"
    table = frame(at, "ms_delta")
    slug = table[table["node"] == "1712"].iloc[0]
    assert (slug["ms_a"], slug["ms_b"]) == (100.0, 300.0)
    html = "\n".join(m.value for m in at.markdown)
    assert "observability-part-<span" in html or "part-</span>" in html or "#d6f5dd" in html
    assert ">2</span>" in html and ">0</span>" in html


def test_prompt_versions_by_content_hash(dash: Dash) -> None:
    at = dash.open("prompts", pwf=SEO)
    table = frame(at, "hash")
    assert list(table["version"]) == ["v1", "v2"]
    assert list(table["runs"]) == [2, 1]
    assert list(table["input_tokens"]) == [300, 300]
    html = "\n".join(m.value for m in at.markdown)
    assert "lowercase" in html and "#d6f5dd" in html


@pytest.mark.parametrize(
    "page", ["overview", "nodes", "models", "traces", "logs", "diff", "prompts"]
)
def test_empty_store_page_says_how_to_get_data_in(
    page: str, empty_collector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = app(empty_collector, monkeypatch, page)
    text = " ".join(i.value for i in at.info)
    assert "yet" in text and "auto-instrument" in text and empty_collector in text


def test_unreachable_collector_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSCOPE_COLLECTOR_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception
    assert "http://127.0.0.1:9 did not answer" in at.error[0].value
    assert "flowscope collector" in at.error[0].value


def test_shared_secret_login_gate(dash: Dash) -> None:
    dash.monkeypatch.setenv("FLOWSCOPE_COLLECTOR_URL", dash.url)
    dash.monkeypatch.setenv("FLOWSCOPE_DASHBOARD_PASSWORD", "s3cret")
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.metric  # nothing shown before signing in
    at.text_input(key="login_password").input("wrong")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong password."
    at.text_input(key="login_password").input("s3cret")
    at.button[0].click().run()
    assert metrics(at)["Runs"] == "6"
