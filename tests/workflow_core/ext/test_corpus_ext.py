"""Corpus files that need HTTP, tools, an agent or knowledge, run offline with this package.

HTTP files run against a loopback server (the route map sends the export's public hosts there);
tool files use the built-in offline-web plugin; knowledge files use a local KB built with
`flowscope kb add` and run through `flowscope run` in a subprocess (chDB: one data directory per
process).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ext_support import CORPUS, REPO, LoopbackServer, last_json, run_cli

from workflow_core.context import Services
from workflow_core.conversation import MemoryConversationStore
from workflow_core.dsl import load_app
from workflow_core.files import file_from_path
from workflow_core.results import RunResult
from workflow_core.runner import WorkflowRunner

OFFLINE_WEB = "https://offline-web.flowscope.invalid/"


def node_outputs(result: RunResult, node_id: str) -> dict[str, Any]:
    return next(r.outputs for r in result.node_results if r.node_id == node_id)


def run_file(name: str, services: Services, inputs: dict[str, Any], **kwargs: Any) -> RunResult:
    runner = WorkflowRunner(
        load_app(CORPUS / name), services=services, conversation_store=MemoryConversationStore()
    )
    result = runner.run(inputs, **kwargs)
    assert result.status == "succeeded", result.error
    return result


def test_chart_demo_draws_the_weather_served_on_loopback(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    months = [
        {"month": m, "maxTemp": 20 + m, "minTemp": m - 5, "rainfall": 10 * m} for m in range(1, 13)
    ]
    loopback.json_route(
        "GET", "/api/climate", {"data": {"beginYear": 1991, "endYear": 2020, "data": months}}
    )
    services = make_services(routes={"https://weather.cma.cn": loopback.url})
    result = run_file("chart_demo.yml", services, {}, query="天气")
    assert loopback.requests[-1].path == "/api/climate?stationid=58367"
    assert result.answer.startswith("```echarts")
    chart = json.loads(result.answer.removeprefix("```echarts").strip().removesuffix("```"))
    assert "1991年-2020年" in chart["title"]["subtext"]
    series = {s["name"]: s["data"] for s in chart["series"]}
    assert series["最高气温"] == [20 + m for m in range(1, 13)]
    assert series["降水"] == [10 * m for m in range(1, 13)]


def test_text_to_card_posts_json_with_api_key_and_extracts_image_url(
    loopback: LoopbackServer, make_services: Callable[..., Services]
) -> None:
    image = "http://127.0.0.1/cards/42.png"
    loopback.json_route("POST", "/open/v1/pics", {"code": 0, "data": {"url": image}})
    services = make_services(
        routes={"https://api.imgrender.cn": loopback.url},
        script={"1721710305685": json.dumps({"image_url": image})},
    )
    result = run_file(
        "Text_to_Card_Iteration.yml", services, {"author": "Ann", "body_text": "Cards from text"}
    )
    sent = loopback.requests[-1]
    assert sent.headers["x-api-key"]  # the export's key went to the custom header
    body = json.loads(sent.body)
    assert "Cards from text" in json.dumps(body, ensure_ascii=False)
    assert result.outputs == {"image_url": image}
    assert f'"url": "{image}"' in node_outputs(result, "1721710297246")["body"]


def test_jina_reader_searches_reads_and_tabulates_offline_pages(
    make_services: Callable[..., Services],
) -> None:
    result = run_file("Jina_Reader_Jinja.yml", make_services(), {"Question": "vector search"})
    table = result.outputs["text"]
    assert table.startswith("|URL|Summary|")
    urls = re.findall(r"^\|(https://[^|]+)\|", table, flags=re.M)
    # max_results: 10 in the export; the offline web holds 6 pages.
    assert len(urls) == 6 and all(u.startswith(OFFLINE_WEB) for u in urls)
    assert urls[0] == OFFLINE_WEB + "clickhouse"  # the best match for the question comes first


def test_simple_kimi_web_path_scrapes_four_search_hits(
    make_services: Callable[..., Services],
) -> None:
    result = run_file(
        "simple-kimi.yml", make_services(), {"web_search": "开启"}, query="vector search"
    )
    search = node_outputs(result, "1727357843831")["json"]
    assert [hit["href"].startswith(OFFLINE_WEB) for hit in search[:4]] == [True] * 4
    scraped = node_outputs(result, "1727437739002")["result"]
    assert "cosineDistance" in scraped  # page text after the webscraper's TEXT: marker
    assert result.answer.startswith("开始搜索...")
    assert OFFLINE_WEB in result.answer


def test_simple_kimi_document_path_extracts_the_uploaded_file(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("Flowscope traces every node of a workflow.")
    result = run_file(
        "simple-kimi.yml",
        make_services(),
        {"web_search": "关闭"},
        query="summarise the file",
        files=[file_from_path(doc)],
    )
    assert node_outputs(result, "1729777092216")["text"] == (
        "Flowscope traces every node of a workflow."
    )
    assert result.answer


def test_agentflow_runs_the_strategy_through_the_model(
    make_services: Callable[..., Services],
) -> None:
    result = run_file(
        "AgentFlow.yml", make_services(), {}, query="我想去巴黎", conversation_id="conv-7"
    )
    [agent] = [r for r in result.node_results if r.node_type == "agent"]
    assert agent.inputs["storage_key"] == "conv-7"  # {{#sys.conversation_id#}} rendered
    assert agent.inputs["query"] == "我想去巴黎"
    assert agent.outputs["json"][0]["strategy"] == "TOD"
    assert len(agent.llm_calls) == 1
    assert "我想去巴黎" in result.answer


@pytest.fixture(scope="module")
def corpus_kb(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A BM25 knowledge base mapped to the corpus's dataset ids, built by the CLI."""
    root = tmp_path_factory.mktemp("kb")
    config = root / "kb.yaml"
    config.write_text(
        (REPO / "examples" / "kb" / "kb.yaml").read_text().replace("../../.flowscope/kb", "store")
    )
    env = {
        "FLOWSCOPE_KB_CONFIG": str(config),
        "FLOWSCOPE_CODE_NO_SLEEP": "1",
        "FLOWSCOPE_CONVERSATIONS_DIR": str(root / "conversations"),
    }
    added = run_cli("kb", "add", "workflow-docs", str(REPO / "examples" / "kb" / "docs"), env=env)
    assert added.returncode == 0, added.stderr
    return env


def test_document_chat_answers_from_the_local_knowledge_base(
    corpus_kb: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "script.yaml"
    # The intent LLM must say a lookup is needed (SPEC §10) and name the class for the classifier.
    script.write_text("'1720795218540': '需要查询: 安装 installation steps'\n")
    done = run_cli(
        "run",
        str(CORPUS / "Document_chat_template.yml"),
        "-i",
        "input=how to install 安装",
        "--json",
        env={**corpus_kb, "FLOWSCOPE_SIM_SCRIPT": str(script)},
    )
    assert done.returncode == 0, done.stderr
    result = last_json(done.stdout)
    assert result["status"] == "succeeded", result["error"]
    # The knowledge text reached the answering model through the template and {{#context#}}.
    assert "Installing a workflow engine" in result["outputs"]["output"]


DEEP_RESEARCHER_SCRIPT = """
import json, sys
from workflow_core.conversation import MemoryConversationStore
from workflow_core.dsl import load_app
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.runner import WorkflowRunner
from workflow_core.settings import RunSettings

# The keyword extractors feed the iterations; give them keywords the KB can answer.
script = {
    "1739191349072": json.dumps({"Keyword1": ["token usage cost", "chunk overlap"]}),
    "17391916626840": json.dumps({"Keyword2": ["vector search cosine"]}),
    "17391916638460": json.dumps({"Keyword3": ["install the engine"]}),
    "17391916650280": json.dumps({"Keyword4": ["tracing spans"]}),
}
settings = RunSettings(code_patch_sleep=True)
services = settings.default_services()
services.llm = SimulatedLLM(script=script)
runner = WorkflowRunner(load_app(sys.argv[1]), services=services, settings=settings,
                        conversation_store=MemoryConversationStore())
replies, knowledge, wiki = [], [], []
for query in ("LLM observability", "cost", "latency", "sampling", "go"):
    r = runner.run({"Research_Theme": "LLM observability"}, query=query, conversation_id="c1")
    assert r.status == "succeeded", r.error
    replies.append(r.answer)
    for n in r.node_results:
        if n.node_type == "knowledge-retrieval":
            knowledge.append([n.inputs["query"], n.outputs["result"]])
        if n.node_type == "tool":
            wiki.append(n.outputs["text"])
print(json.dumps({"replies": replies, "knowledge": knowledge, "wiki": wiki}))
"""


def test_deep_researcher_five_turns_use_knowledge_and_wikipedia(
    corpus_kb: dict[str, str],
) -> None:
    """Five chat turns in one process (the knowledge store is opened once), real chDB KB."""
    done = subprocess.run(
        [sys.executable, "-c", DEEP_RESEARCHER_SCRIPT, str(CORPUS / "Deep_Researcher_On_Dify.yml")],
        capture_output=True,
        text=True,
        env={**os.environ, **corpus_kb},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = last_json(done.stdout)
    replies = report["replies"]
    assert replies[0].startswith("为了更好的回答这个问题")
    assert replies[-1].count("<h2>") == 4  # four research angles
    # Each keyword was looked up in the local KB and found its document.
    found = {query: [hit["title"] for hit in hits] for query, hits in report["knowledge"]}
    assert found["chunk overlap"][0] == "faq.md"
    assert found["vector search cosine"][0] == "architecture.md"
    assert found["install the engine"][0] == "installation.md"
    assert all(
        hit["metadata"]["dataset_name"] == "workflow-docs"
        for _, hits in report["knowledge"]
        for hit in hits
    )
    # The fourth angle searched the offline web through the wikipedia_search tool.
    assert report["wiki"] and report["wiki"][0].startswith("OpenTelemetry in brief")
