"""Tool plugins: manifests, discovery, credentials, built-ins, the tool node."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from ext_support import REPO, LoopbackServer, app_from, end_node, start_node

from workflow_core.context import Services
from workflow_core.errors import DSLError
from workflow_core.runner import WorkflowRunner
from workflow_core.tools.base import ToolError, ToolRunner
from workflow_core.tools.builtin.calculator.plugin import evaluate  # type: ignore[import-not-found]
from workflow_core.tools.registry import BUILTIN_DIR, PluginRegistry, PluginsConfig

EXAMPLES = REPO / "examples" / "plugins"


@pytest.fixture
def runner() -> ToolRunner:
    return ToolRunner(PluginRegistry([BUILTIN_DIR, EXAMPLES]))


def test_calculator_evaluates_arithmetic_and_functions(runner: ToolRunner) -> None:
    assert runner.invoke("calculator", "calculate", {"expression": "2 + 3 * (4 - 1)"}).text == "11"
    assert evaluate("sqrt(16) + max(1, 2) ** 2") == 8.0
    assert evaluate("-7 // 2") == -4


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "open('/etc/passwd')", "(1).__class__", "[1, 2]", "x"],
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ToolError, match="unsupported element"):
        evaluate(expression)


def test_calculator_guards_huge_powers_and_zero_division() -> None:
    with pytest.raises(ToolError, match="exponent"):
        evaluate("9 ** 999999")
    with pytest.raises(ToolError, match="division by zero"):
        evaluate("1 / 0")


def test_time_plugin_answers_in_the_requested_zone(runner: ToolRunner) -> None:
    result = runner.invoke("time", "current_time", {"timezone": "Asia/Tokyo", "format": "%Z"})
    assert result.text == "JST"
    assert runner.invoke("time", "weekday", {"year": 2024, "month": 7, "day": 4}).text == "Thursday"
    with pytest.raises(ToolError, match="unknown timezone 'Mars/Base'"):
        runner.invoke("time", "current_time", {"timezone": "Mars/Base"})


def test_parameters_are_checked_against_the_manifest_schema(runner: ToolRunner) -> None:
    with pytest.raises(ToolError, match=r"calculator/calculate: parameter .*'expression'"):
        runner.invoke("calculator", "calculate", {})
    with pytest.raises(ToolError, match="has no tool 'integrate'"):
        runner.invoke("calculator", "integrate", {"expression": "1"})


def test_missing_provider_error_lists_installed_ones(runner: ToolRunner) -> None:
    with pytest.raises(ToolError, match=r"no plugin provides 'google'.*calculator"):
        runner.invoke("google", "search", {"query": "x"})


def test_credentials_come_from_env_or_config_never_from_params(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FLOWSCOPE_WORD_COUNT_API_KEY", raising=False)
    runner = ToolRunner(PluginRegistry([EXAMPLES]))
    with pytest.raises(ToolError, match="credential 'api_key' is required; set FLOWSCOPE_WORD"):
        runner.invoke("word_count", "count_words", {"text": "a b"})
    monkeypatch.setenv("FLOWSCOPE_WORD_COUNT_API_KEY", "secret")
    assert runner.invoke("word_count", "count_words", {"text": "a bb ccc"}).text == "3"

    monkeypatch.delenv("FLOWSCOPE_WORD_COUNT_API_KEY")
    config_file = tmp_path / "plugins.yaml"
    config_file.write_text(
        f"plugin_dirs: [{EXAMPLES}]\nplugins:\n  word-count:\n"
        "    settings: {min_length: '2'}\n    credentials: {api_key: from-file}\n"
    )
    config = PluginsConfig.load(config_file)
    from_file = ToolRunner(PluginRegistry([*config.plugin_dirs], config))
    assert from_file.invoke("word_count", "count_words", {"text": "a bb ccc"}).text == "2"


def test_invalid_manifest_names_file_and_field(tmp_path: Path) -> None:
    plugin = tmp_path / "broken"
    plugin.mkdir()
    (plugin / "manifest.yaml").write_text(
        "name: broken\nversion: 1\nprovider: broken\nentrypoint: nocolon\ntools: []\n"
    )
    with pytest.raises(ToolError, match=re.escape(str(plugin / "manifest.yaml")) + ".*entrypoint"):
        PluginRegistry([tmp_path])


def test_plugin_code_that_fails_to_import_is_reported(tmp_path: Path) -> None:
    plugin = tmp_path / "bad"
    plugin.mkdir()
    (plugin / "manifest.yaml").write_text(
        "name: bad\nversion: '1'\nprovider: bad\nentrypoint: plugin:Bad\ntools: [{name: t}]\n"
    )
    (plugin / "plugin.py").write_text("raise RuntimeError('boom')\n")
    runner = ToolRunner(PluginRegistry([tmp_path]))
    with pytest.raises(ToolError, match="plugin code failed to import: boom"):
        runner.invoke("bad", "t", {})


def test_offline_web_search_and_readers_follow_the_tool_layouts(runner: ToolRunner) -> None:
    ddg = runner.invoke("duckduckgo", "ddgo_search", {"query": "vector search", "max_results": 5})
    assert len(ddg.json) == 5
    assert ddg.json[0]["title"] == "ClickHouse and vector search"
    assert ddg.json[0]["href"].startswith("https://offline-web.flowscope.invalid/")
    tavily = runner.invoke("tavily", "tavily_search", {"query": "tracing spans"})
    assert re.findall(r"https?://[^\s)]+", tavily.text)
    page = runner.invoke("webscraper", "webscraper", {"url": ddg.json[0]["href"]})
    assert "TEXT:\n\n" in page.text and "cosineDistance" in page.text
    jina = runner.invoke("jina", "jina_reader", {"url": ddg.json[1]["href"]})
    assert jina.text.startswith("Title: ")
    with pytest.raises(ToolError, match="not one of the 6 fixture pages"):
        runner.invoke("jina", "jina_reader", {"url": "https://example.com/"})


def test_web_reader_reads_file_and_loopback_but_refuses_other_hosts(
    runner: ToolRunner, tmp_path: Path, loopback: LoopbackServer
) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Local</title><script>x()</script></head>"
        "<body><p>Hello page</p></body></html>"
    )
    result = runner.invoke("web_reader", "read_page", {"url": page.as_uri()})
    assert (
        "Title: Local" in result.text and "Hello page" in result.text and "x()" not in result.text
    )

    html = b"<html><title>Served</title><body>from loopback</body></html>"
    loopback.routes[("GET", "/p")] = lambda _r: (200, {"content-type": "text/html"}, html)
    served = runner.invoke("web_reader", "read_page", {"url": loopback.url + "/p"})
    assert "from loopback" in served.text
    with pytest.raises(ToolError, match="only file:// and loopback"):
        runner.invoke("web_reader", "read_page", {"url": "http://10.1.2.3/"})


def tool_app(provider: str, tool: str) -> object:
    nodes = [
        start_node({"expr": "text-input"}),
        {
            "id": "calc",
            "data": {
                "type": "tool",
                "title": "Calc",
                "provider_id": provider,
                "provider_type": "builtin",
                "tool_name": tool,
                "tool_configurations": {},
                "tool_parameters": {
                    "expression": {"type": "mixed", "value": "{{#start.expr#}} + 1"}
                },
            },
        },
        end_node({"text": ["calc", "text"], "json": ["calc", "json"]}),
    ]
    return app_from("tool-test", nodes, [("start", "calc"), ("calc", "end")])


def test_tool_node_renders_parameters_and_outputs_text_and_json(
    make_services: Callable[..., Services],
) -> None:
    result = WorkflowRunner(tool_app("calculator", "calculate"), services=make_services()).run(
        {"expr": "6 * 7"}
    )
    assert result.status == "succeeded", result.error
    assert result.outputs == {"text": "43", "json": [{"result": 43}]}


def test_missing_plugin_fails_validation_naming_node() -> None:
    with pytest.raises(
        DSLError, match=r"node calc \(tool\): field 'provider_id': no plugin provides 'wolfram'"
    ):
        WorkflowRunner(tool_app("wolfram", "calculate"))  # type: ignore[arg-type]
    with pytest.raises(DSLError, match="has no tool 'integrate'"):
        WorkflowRunner(tool_app("calculator", "integrate"))  # type: ignore[arg-type]


def test_plugin_era_provider_ids_resolve_to_their_last_segment(runner: ToolRunner) -> None:
    result = runner.invoke("langgenius/calculator/calculator", "calculate", {"expression": "2*3"})
    assert result.text == "6"
