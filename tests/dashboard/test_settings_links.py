"""Settings precedence and the infrastructure link templates."""

from __future__ import annotations

import pytest

from dashboard.errors import ConfigError
from dashboard.links import infrastructure_links
from dashboard.settings import load_settings


def test_explicit_collector_url_beats_env() -> None:
    env = {"FLOWSCOPE_COLLECTOR_URL": "http://10.0.0.1:4318/"}
    assert load_settings(env=env).collector_url == "http://10.0.0.1:4318"
    assert load_settings(collector_url="http://127.0.0.1:9999", env=env).collector_url == (
        "http://127.0.0.1:9999"
    )
    assert load_settings(env={}).collector_url == "http://127.0.0.1:4318"


def test_unknown_template_placeholder_names_variable_and_allowed_fields() -> None:
    with pytest.raises(
        ConfigError, match=r"FLOWSCOPE_LOGS_URL_TEMPLATE: unknown placeholder \{tid\}"
    ):
        load_settings(env={"FLOWSCOPE_LOGS_URL_TEMPLATE": "http://logs/?q={tid}"})


def test_collector_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="FLOWSCOPE_COLLECTOR_URL must be an http"):
        load_settings(env={"FLOWSCOPE_COLLECTOR_URL": "127.0.0.1:4318"})


def test_links_fill_trace_span_time_window_and_service() -> None:
    settings = load_settings(
        env={
            "FLOWSCOPE_JAEGER_URL": "http://jaeger:16686/",
            "FLOWSCOPE_LOGS_URL_TEMPLATE": (
                "http://grafana/explore?q={trace_id}&span={span_id}&from={start}&to={end}"
                "&svc={service}"
            ),
            "FLOWSCOPE_APM_URL_TEMPLATE": "http://apm/services/{service}/traces/{trace_id}",
        }
    )
    links = infrastructure_links(
        settings,
        trace_id="abc123",
        span_id="def",
        start_ns=1_700_000_000_000_000_000,
        end_ns=1_700_000_001_000_000_000,
        service="my svc",
    )
    assert [link.label for link in links] == ["Jaeger", "Logs", "APM"]
    assert links[0].url == "http://jaeger:16686/trace/abc123?uiFind=def"
    assert links[1].url == (
        "http://grafana/explore?q=abc123&span=def&from=1699999940000&to=1700000061000&svc=my%20svc"
    )
    assert links[2].url == "http://apm/services/my%20svc/traces/abc123"


def test_no_templates_no_links() -> None:
    links = infrastructure_links(load_settings(env={}), trace_id="t", start_ns=0, end_ns=0)
    assert links == []


def test_json_braces_in_a_grafana_template_survive() -> None:
    template = (
        'http://grafana/explore?left={"queries":[{"expr":"{service_name=\\"{service}\\"} '
        '|= \\"{trace_id}\\""}],"range":{"from":"{start}","to":"{end}"}}'
    )
    settings = load_settings(env={"FLOWSCOPE_LOGS_URL_TEMPLATE": template})
    (link,) = infrastructure_links(
        settings, trace_id="abc", start_ns=120_000_000_000, end_ns=180_000_000_000, service="svc"
    )
    assert link.url == (
        'http://grafana/explore?left={"queries":[{"expr":"{service_name=\\"svc\\"} '
        '|= \\"abc\\""}],"range":{"from":"60000","to":"240000"}}'
    )


def test_cost_over_time_bucket_follows_the_time_range() -> None:
    from dashboard.filters import since_for
    from dashboard.views.overview import bucket_for

    buckets = [bucket_for(since_for(key)) for key in ("15m", "24h", "7d", "30d", "365d")]
    assert buckets == ["minute", "minute", "hour", "hour", "day"]
