"""graphon's own runtimes on the Slim plugin daemon are traced: the model (``SlimLLM``, streaming
or not) and plugin tools (``SlimToolNodeRuntime``).

Real graphon end to end: ``graphon.dsl.loads`` (unchanged importer) builds the nodes on its Slim
runtimes, whose real ``SlimClient`` runs a stand-in ``dify-plugin-daemon-slim`` executable
speaking the Slim line protocol (``fake_slim.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graphon_support.corpus import SAMPLES
from graphon_support.trees import from_sdk, span_tree

HERE = Path(__file__).resolve().parent


@pytest.fixture
def slim_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    binary = tmp_path / "dify-plugin-daemon-slim"
    binary.write_text(f"#!{sys.executable}\n" + (HERE / "fake_slim.py").read_text())
    binary.chmod(0o755)
    monkeypatch.setenv("SLIM_BINARY_PATH", str(binary))
    monkeypatch.setenv("SLIM_PLUGIN_FOLDER", str(tmp_path / "plugins"))
    yield binary


def _seo_with_dependency() -> str:
    """SEO_Slug_Generator as a current Dify export: with its model plugin dependency listed."""
    document = yaml.safe_load(SAMPLES["SEO_Slug_Generator.yml"].path.read_text())
    document["dependencies"] = [
        {
            "type": "marketplace",
            "value": {"marketplace_plugin_unique_identifier": "langgenius/deepseek:0.0.1@0"},
        }
    ]
    return str(yaml.safe_dump(document, allow_unicode=True))


def test_streamed_slim_llm_call_is_a_chat_span_under_its_node_with_usage(
    exporter: InMemorySpanExporter, slim_binary: Path
) -> None:
    import graphon.dsl

    engine = graphon.dsl.loads(
        _seo_with_dependency(),
        start_inputs={"title": "Tracing the real engine"},
        run_context={"app_name": "SEO Slug Generator", "app_mode": "workflow"},
    )
    events = list(engine.run())
    assert type(events[-1]).__name__ == "GraphRunSucceededEvent"
    assert events[-1].outputs == {"output": "slug-answer"}
    spans = list(exporter.get_finished_spans())
    tree = span_tree(from_sdk(spans))
    assert tree.lines() == [
        "invoke_workflow SEO Slug Generator",
        "  end End",
        "  llm LLM",
        "    chat deepseek-chat",
        "  start Start",
    ]
    (chat,) = [s for s in spans if s.name == "chat deepseek-chat"]
    (node,) = [s for s in spans if s.name == "llm LLM"]
    assert chat.parent is not None and chat.parent.span_id == node.context.span_id
    attrs = chat.attributes or {}
    assert attrs["gen_ai.provider.name"] == "deepseek"
    assert attrs["gen_ai.usage.output_tokens"] == 2  # the fake's two chunks
    assert attrs["gen_ai.usage.input_tokens"] > 10
    assert attrs["flowscope.node.id"] == "1721110597868"
    assert chat.end_time >= chat.start_time and node.end_time >= chat.end_time


def test_blocking_slim_llm_call_outside_a_run_is_its_own_chat_span(
    exporter: InMemorySpanExporter, slim_binary: Path, tmp_path: Path
) -> None:
    from graphon.dsl.slim import SlimClientConfig, SlimLLM
    from graphon.model_runtime.entities.message_entities import UserPromptMessage

    llm = SlimLLM(
        config=SlimClientConfig(folder=tmp_path / "plugins"),
        plugin_id="langgenius/openai:0.0.1@0",
        provider="openai",
        model_name="gpt-4o-mini",
        credentials={"openai_api_key": "sk-test"},
    )
    result = llm.invoke_llm(
        prompt_messages=[UserPromptMessage(content="one two three")],
        model_parameters={},
        tools=None,
        stop=None,
        stream=False,
    )
    assert result.message.content == "slug-answer"
    (chat,) = exporter.get_finished_spans()
    assert chat.name == "chat gpt-4o-mini" and chat.parent is None
    assert (chat.attributes or {})["gen_ai.usage.input_tokens"] == 3
    assert "sk-test" not in str(dict(chat.attributes or {}))


def test_plugin_tool_call_is_an_execute_tool_span_and_the_tree_matches_the_core(
    exporter: InMemorySpanExporter, slim_binary: Path
) -> None:
    import graphon.dsl

    from workflow_core.services import build_runner

    path = HERE / "data" / "tool_demo.yml"
    core = build_runner(path).run({})
    core_tree = span_tree(from_sdk(exporter.get_finished_spans()))
    exporter.clear()
    engine = graphon.dsl.loads(path.read_text(), run_context={"app_name": "Tool Demo"})
    events = list(engine.run())
    spans = list(exporter.get_finished_spans())

    assert core.status == "succeeded"
    assert events[-1].outputs == {"time": "12:00 Europe/Paris"}  # the stand-in plugin's answer
    assert span_tree(from_sdk(spans)) == core_tree
    (tool,) = [s for s in spans if s.name == "execute_tool current_time"]
    attrs = tool.attributes or {}
    assert attrs["gen_ai.tool.name"] == "current_time"
    assert attrs["flowscope.tool.provider"] == "time"
    assert attrs["flowscope.node.id"] == "clock"
    assert attrs["flowscope.tool.message_count"] == 1
