"""http-request node and HttpClient against a real loopback HTTP server."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ext_support import LoopbackServer, app_from

from workflow_core.context import Services
from workflow_core.errors import DSLError
from workflow_core.files import file_from_path
from workflow_core.http_client import (
    HttpClient,
    HttpClientError,
    HttpRequestSpec,
    Timeouts,
    parse_route_map,
)
from workflow_core.runner import WorkflowRunner


def http_app(data: dict[str, Any], *, file_input: bool = False) -> Any:
    variables = [{"variable": "name", "label": "name", "type": "text-input", "required": False}]
    if file_input:
        variables.append({"variable": "doc", "label": "doc", "type": "file", "required": False})
    nodes = [
        {"id": "start", "data": {"type": "start", "title": "Start", "variables": variables}},
        {"id": "req", "data": {"type": "http-request", "title": "Call", **data}},
        {
            "id": "end",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [
                    {"variable": k, "value_selector": ["req", k]}
                    for k in ("status_code", "body", "headers", "files")
                ],
            },
        },
    ]
    return app_from("http-test", nodes, [("start", "req"), ("req", "end")])


def run_http(services: Services, data: dict[str, Any], **inputs: Any) -> Any:
    app = http_app(data, file_input="doc" in inputs)
    return WorkflowRunner(app, services=services).run(inputs)


def test_json_body_custom_api_key_header_and_rendered_url(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    loopback.json_route("POST", "/v1/echo", {"ok": True})
    result = run_http(
        make_services(),
        {
            "method": "post",
            "url": loopback.url + "/v1/echo",
            "authorization": {
                "type": "api-key",
                "config": {"type": "custom", "header": "X-API-Key", "api_key": "k-123"},
            },
            "headers": "Content-Type:application/json\nX-Who:{{#start.name#}}",
            "params": "lang:en",
            "body": {"type": "json", "data": '{"name": "{{#start.name#}}", "n": 2,}'},
        },
        name="Ann",
    )
    assert result.status == "succeeded", result.error
    sent = loopback.requests[-1]
    assert sent.path == "/v1/echo?lang=en"
    assert sent.headers["x-api-key"] == "k-123"
    assert sent.headers["x-who"] == "Ann"
    # The trailing comma was repaired before parsing.
    assert json.loads(sent.body) == {"name": "Ann", "n": 2}
    assert result.outputs["status_code"] == 200
    assert json.loads(result.outputs["body"]) == {"ok": True}


def test_legacy_string_body_is_one_json_item(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    loopback.json_route("POST", "/pics", {"url": "x"})
    result = run_http(
        make_services(),
        {
            "method": "post",
            "url": loopback.url + "/pics",
            "body": {"type": "json", "data": '{"text": "{{#start.name#}}"}'},
        },
        name="card",
    )
    assert result.status == "succeeded", result.error
    assert json.loads(loopback.requests[-1].body) == {"text": "card"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"type": "bearer", "api_key": "tok"}, "Bearer tok"),
        (
            {"type": "basic", "api_key": "user:pass"},
            "Basic " + base64.b64encode(b"user:pass").decode(),
        ),
        ({"type": "custom", "api_key": "raw-key"}, "raw-key"),
    ],
)
def test_authorization_variants(
    loopback: LoopbackServer,
    make_services: Callable[..., Services],
    config: dict[str, str],
    expected: str,
) -> None:
    loopback.json_route("GET", "/auth", {})
    result = run_http(
        make_services(),
        {
            "method": "get",
            "url": loopback.url + "/auth",
            "authorization": {"type": "api-key", "config": config},
        },
    )
    assert result.status == "succeeded", result.error
    assert loopback.requests[-1].headers["authorization"] == expected


def test_form_bodies_and_raw_text(
    loopback: LoopbackServer, make_services: Callable[..., Services], tmp_path: Path
) -> None:
    loopback.json_route("POST", "/form", {})
    services = make_services()
    urlencoded = {
        "method": "post",
        "url": loopback.url + "/form",
        "body": {
            "type": "x-www-form-urlencoded",
            "data": [{"key": "a", "type": "text", "value": "{{#start.name#}}"}],
        },
    }
    assert run_http(services, urlencoded, name="x y").status == "succeeded"
    assert loopback.requests[-1].body == b"a=x+y"
    assert loopback.requests[-1].headers["content-type"] == "application/x-www-form-urlencoded"

    doc = tmp_path / "note.txt"
    doc.write_text("file body")
    multipart = {
        "method": "post",
        "url": loopback.url + "/form",
        "body": {
            "type": "form-data",
            "data": [
                {"key": "title", "type": "text", "value": "T"},
                {"key": "upload", "type": "file", "file": ["start", "doc"]},
            ],
        },
    }
    result = run_http(services, multipart, doc=str(doc))
    assert result.status == "succeeded", result.error
    sent = loopback.requests[-1]
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert b'name="title"' in sent.body and b"file body" in sent.body
    assert b'filename="note.txt"' in sent.body

    raw = {
        "method": "post",
        "url": loopback.url + "/form",
        "body": {"type": "raw-text", "data": [{"type": "text", "value": "plain {{#start.name#}}"}]},
    }
    assert run_http(services, raw, name="words").status == "succeeded"
    assert loopback.requests[-1].body == b"plain words"


def test_binary_body_sends_file_bytes(
    loopback: LoopbackServer, make_services: Callable[..., Services], tmp_path: Path
) -> None:
    loopback.json_route("PUT", "/blob", {})
    blob = tmp_path / "data.bin"
    blob.write_bytes(bytes(range(256)))
    data = {
        "method": "put",
        "url": loopback.url + "/blob",
        "body": {"type": "binary", "data": [{"type": "file", "file": ["start", "doc"]}]},
    }
    result = run_http(make_services(), data, doc=str(blob))
    assert result.status == "succeeded", result.error
    assert loopback.requests[-1].body == bytes(range(256))


def test_non_2xx_succeeds_without_error_strategy_and_fails_with_one(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    loopback.json_route("GET", "/missing", {"error": "nope"}, status=404)
    data = {"method": "get", "url": loopback.url + "/missing"}
    plain = run_http(make_services(), data)
    assert plain.status == "succeeded"
    assert plain.outputs["status_code"] == 404

    handled = run_http(
        make_services(),
        {
            **data,
            "error_strategy": "default-value",
            "default_value": [{"key": "body", "type": "string", "value": "fallback"}],
        },
    )
    assert handled.outputs["body"] == "fallback"


def test_binary_response_becomes_a_file(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    loopback.routes[("GET", "/img")] = lambda _r: (200, {"content-type": "image/png"}, png)
    result = run_http(make_services(), {"method": "get", "url": loopback.url + "/img"})
    assert result.status == "succeeded", result.error
    assert result.outputs["body"] == ""
    [file] = result.outputs["files"]
    assert file["extension"] == ".png"
    assert file["size"] == len(png)


def test_route_map_sends_public_host_to_loopback(loopback: LoopbackServer) -> None:
    loopback.json_route("GET", "/api/climate", {"data": 1})
    client = HttpClient(parse_route_map(f"https://weather.cma.cn={loopback.url}"))
    response = client.send(
        HttpRequestSpec(method="GET", url="https://weather.cma.cn/api/climate?stationid=1")
    )
    assert response.status_code == 200
    assert loopback.requests[-1].path == "/api/climate?stationid=1"


def test_route_map_syntax_errors_name_the_pair() -> None:
    assert parse_route_map('{"https://a": "http://b"}') == {"https://a": "http://b"}
    with pytest.raises(HttpClientError, match="'nonsense'"):
        parse_route_map("nonsense")


def test_read_timeout_is_a_clear_error(loopback: LoopbackServer) -> None:
    import time

    def slow(_request: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.0)
        return 200, {}, b""

    loopback.routes[("GET", "/slow")] = slow
    client = HttpClient()
    spec = HttpRequestSpec(method="GET", url=loopback.url + "/slow", timeouts=Timeouts(1, 0.2, 1))
    with pytest.raises(HttpClientError, match="timed out"):
        client.send(spec)


def test_connection_refused_fails_the_node_with_its_id(
    make_services: Callable[..., Services],
) -> None:
    result = run_http(make_services(), {"method": "get", "url": "http://127.0.0.1:9/x"})
    assert result.status == "failed"
    assert "req (http-request)" in (result.error or "")


def test_invalid_method_fails_validation_naming_node_and_field() -> None:
    with pytest.raises(DSLError, match=r"node req \(http-request\): field 'method'"):
        WorkflowRunner(http_app({"method": "fetch", "url": "http://127.0.0.1/"}))


def test_file_from_path_round_trips_through_send(tmp_path: Path) -> None:
    # Guard for the helper used by binary bodies: a file value points at a readable file URL.
    target = tmp_path / "a.txt"
    target.write_text("x")
    assert file_from_path(target)["url"].startswith("file://")


def test_5xx_with_retry_enabled_is_retried_until_success(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    answers = iter([(503, {}, b"busy"), (503, {}, b"busy"), (200, {}, b"done")])
    loopback.routes[("GET", "/flaky")] = lambda _r: next(answers)
    data = {
        "method": "get",
        "url": loopback.url + "/flaky",
        "retry_config": {"retry_enabled": True, "max_retries": 3, "retry_interval": 10},
    }
    result = run_http(make_services(), data)
    assert result.status == "succeeded", result.error
    assert result.outputs["body"] == "done"
    assert len(loopback.requests) == 3
    [node] = [r for r in result.node_results if r.node_id == "req"]
    assert node.attempts == 3


def test_variable_values_are_rendered_once_not_as_templates(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    loopback.json_route("GET", "/echo", {})
    data = {
        "method": "get",
        "url": loopback.url + "/echo",
        "headers": "X-Who:{{#start.name#}}",
        "params": "q:{{#start.name#}}",
    }
    result = run_http(make_services(), data, name="{{#sys.user_id#}}")
    assert result.status == "succeeded", result.error
    sent = loopback.requests[-1]
    assert sent.headers["x-who"] == "{{#sys.user_id#}}"
    assert "flowscope-user" not in sent.path


def test_ssl_verify_refuses_a_self_signed_server_unless_disabled(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    import ssl
    import subprocess

    from ext_support import start_server

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    state = LoopbackServer(url="")
    httpd = start_server(state)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.url = state.url.replace("http://", "https://")
    state.json_route("GET", "/secure", {"ok": 1})
    try:
        data = {"method": "get", "url": state.url + "/secure"}
        refused = run_http(make_services(), data)
        assert refused.status == "failed"
        assert "CERTIFICATE_VERIFY_FAILED" in (refused.error or "")
        allowed = run_http(make_services(), {**data, "ssl_verify": False})
        assert allowed.status == "succeeded", allowed.error
        assert json.loads(allowed.outputs["body"]) == {"ok": 1}
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_node_read_timeout_fails_the_node(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    import time

    def slow(_request: Any) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return 200, {}, b"late"

    loopback.routes[("GET", "/slow")] = slow
    data = {"method": "get", "url": loopback.url + "/slow", "timeout": {"read": 0.3}}
    result = run_http(make_services(), data)
    assert result.status == "failed"
    assert "timed out" in (result.error or "")
