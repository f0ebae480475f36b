"""Probe settings: explicit argument > environment > default, with errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.errors import SettingsError
from probe.settings import DEFAULT_ENDPOINT, ProbeSettings


def test_defaults_without_environment() -> None:
    settings = ProbeSettings.from_env({})
    assert settings.endpoint == DEFAULT_ENDPOINT
    assert settings.signal_endpoint("traces") == "http://127.0.0.1:4318/v1/traces"
    assert settings.sampling_policy is None
    assert settings.capture_content is True


def test_environment_read_with_otel_names() -> None:
    settings = ProbeSettings.from_env(
        {
            "OTEL_SERVICE_NAME": "svc",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.0.0.1:4318/",
            "FLOWSCOPE_SAMPLING_POLICY": "/tmp/p.yaml",
            "FLOWSCOPE_CAPTURE_MAX_BYTES": "128",
            "FLOWSCOPE_REDACT_PATTERNS": r'["a,b", "\\d{4}"]',
        }
    )
    assert settings.service_name == "svc"
    assert settings.signal_endpoint("metrics") == "http://10.0.0.1:4318/v1/metrics"
    assert settings.sampling_policy == Path("/tmp/p.yaml")
    assert settings.capture_max_bytes == 128
    assert settings.redact_patterns == ("a,b", r"\d{4}")


def test_explicit_argument_wins_over_environment() -> None:
    settings = ProbeSettings.from_env({"OTEL_SERVICE_NAME": "env"}, service_name="arg")
    assert settings.service_name == "arg"


def test_traces_endpoint_variable_used_as_is() -> None:
    settings = ProbeSettings.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:1/x"})
    assert settings.signal_endpoint("traces") == "http://h:1/x"


def test_logs_endpoint_variable_sends_logs_elsewhere_and_only_logs() -> None:
    settings = ProbeSettings.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:3100/otlp/v1/logs",
        }
    )
    assert settings.signal_endpoint("logs") == "http://logs:3100/otlp/v1/logs"
    assert settings.signal_endpoint("traces") == "http://collector:4318/v1/traces"
    assert ProbeSettings.from_env({}).signal_endpoint("logs").endswith("/v1/logs")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("FLOWSCOPE_CAPTURE_MAX_BYTES", "lots", "an integer"),
        ("FLOWSCOPE_CAPTURE_MAX_BYTES", "3", "an integer >= 64"),
        ("FLOWSCOPE_CAPTURE_CONTENT", "maybe", "true or false"),
        ("FLOWSCOPE_REDACT_PATTERNS", "([", "a valid regular expression"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318", "an http:// or https:// URL"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "one of otlp, none, console"),
        ("FLOWSCOPE_PROBE_WRAPPER", "decorator", "one of function, wrapt"),
    ],
)
def test_bad_values_name_variable_and_value(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        ProbeSettings.from_env({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}: expected {expected}")
    assert repr(value) in message


def test_wrapper_kind_read_from_environment() -> None:
    assert ProbeSettings.from_env({}).wrapper == "function"
    assert ProbeSettings.from_env({"FLOWSCOPE_PROBE_WRAPPER": " WRAPT "}).wrapper == "wrapt"
