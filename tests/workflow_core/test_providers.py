"""LLM providers: the OpenAI-compatible client against a real local HTTP server, and the
simulated provider's shapes (SPEC §10)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from workflow_core.errors import ProviderError
from workflow_core.providers import create_llm_client
from workflow_core.providers.base import ChatMessage, LLMRequest, ToolSpec
from workflow_core.providers.openai import OpenAIClient
from workflow_core.providers.simulated import SimulatedLLM
from workflow_core.providers.tokens import count_tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FakeOpenAI:
    """A local server speaking the chat completions API."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/v1/chat/completions")
        async def completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append({"body": body, "auth": request.headers.get("authorization")})
            if body["model"] == "broken":
                return JSONResponse({"error": {"message": "model broken not found"}}, 404)
            message: dict[str, Any] = {"role": "assistant", "content": "Bonjour le monde"}
            if body.get("tools"):
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": "extract_parameters",
                                "arguments": '{"city": "Paris"}',
                            },
                        }
                    ],
                }
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "model": body["model"] + "-2024-07-18",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {
                        "prompt_tokens": 17,
                        "completion_tokens": 4,
                        "prompt_tokens_details": {"cached_tokens": 8},
                    },
                }
            )


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the fake OpenAI server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1", fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _request(**kwargs: Any) -> LLMRequest:
    return LLMRequest(
        model=kwargs.pop("model", "gpt-4o-mini"),
        messages=(
            ChatMessage("system", "Translate to French."),
            ChatMessage("user", "Hello world"),
        ),
        **kwargs,
    )


def test_openai_client_reads_usage_and_sends_the_key(fake_openai: tuple[str, FakeOpenAI]) -> None:
    url, fake = fake_openai
    client = create_llm_client("openai", {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": url})
    assert isinstance(client, OpenAIClient)
    response = client.invoke(_request(parameters={"temperature": 0.2, "unknown_knob": 1}))
    assert response.text == "Bonjour le monde"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (17, 4)
    assert response.usage.cached_input_tokens == 8
    sent = fake.requests[-1]
    assert sent["auth"] == "Bearer sk-test"
    assert sent["body"]["temperature"] == 0.2 and "unknown_knob" not in sent["body"]
    assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]


def test_openai_client_parses_tool_calls(fake_openai: tuple[str, FakeOpenAI]) -> None:
    url, _ = fake_openai
    client = OpenAIClient(api_key="k", base_url=url)
    tool = ToolSpec("extract_parameters", "x", {"type": "object", "properties": {}})
    response = client.invoke(_request(tools=(tool,)))
    assert response.tool_calls[0].name == "extract_parameters"
    assert response.tool_calls[0].arguments == {"city": "Paris"}


def test_openai_http_error_is_a_clear_provider_error(fake_openai: tuple[str, FakeOpenAI]) -> None:
    url, _ = fake_openai
    client = OpenAIClient(api_key="sk-secret-value", base_url=url)
    with pytest.raises(ProviderError) as info:
        client.invoke(_request(model="broken"))
    assert "HTTP 404: model broken not found" in str(info.value)
    assert "sk-secret-value" not in str(info.value)


def test_openai_unreachable_server_is_a_provider_error() -> None:
    client = OpenAIClient(api_key="k", base_url=f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(ProviderError, match=r"request to http://127\.0\.0\.1"):
        client.invoke(_request())


def test_openai_without_key_or_base_url_is_refused() -> None:
    with pytest.raises(ProviderError, match="needs OPENAI_API_KEY"):
        create_llm_client("openai", {})


def test_simulated_is_deterministic_with_realistic_usage() -> None:
    llm = SimulatedLLM()
    first, second = llm.invoke(_request()), llm.invoke(_request())
    assert first == second
    assert first.model == "gpt-4o-mini"
    assert (
        first.usage.input_tokens
        == count_tokens("Translate to French.") + count_tokens("Hello world") + 11
    )
    assert first.usage.output_tokens == count_tokens(first.text)


def test_simulated_falls_back_to_a_priced_model_name() -> None:
    response = SimulatedLLM().invoke(_request(model="my-private-finetune"))
    assert response.model == "gpt-4o-mini"


def test_simulated_latency_is_configurable() -> None:
    client = create_llm_client(None, {"FLOWSCOPE_SIM_LATENCY_MS": "120"})
    started = time.perf_counter()
    client.invoke(_request())
    assert time.perf_counter() - started >= 0.12


def test_simulated_latency_must_be_a_number() -> None:
    with pytest.raises(ProviderError, match="FLOWSCOPE_SIM_LATENCY_MS must be a number"):
        create_llm_client("simulated", {"FLOWSCOPE_SIM_LATENCY_MS": "fast"})


def test_simulated_script_file_answers_by_node_id(tmp_path: Any) -> None:
    script = tmp_path / "script.yml"
    script.write_text(
        "n1: [first, second]\nn2: {text: '', tool_calls: [{name: t, arguments: {a: 1}}]}\n"
    )
    llm = create_llm_client("simulated", {"FLOWSCOPE_SIM_SCRIPT": str(script)})
    answers = [llm.invoke(_request(node_id="n1")).text for _ in range(3)]
    assert answers == ["first", "second", "second"]
    call = llm.invoke(_request(node_id="n2")).tool_calls[0]
    assert (call.name, call.arguments) == ("t", {"a": 1})


def test_simulated_fenced_json_follows_the_prompt_example() -> None:
    prompt = 'Answer as a JSON list like [{"chapter": "1", "title": "x", "contents": ["1.1"]}]'
    text = (
        SimulatedLLM()
        .invoke(LLMRequest(model="gpt-4o", messages=(ChatMessage("user", prompt),)))
        .text
    )
    assert text.startswith("```json\n") and text.endswith("\n```")
    value = json.loads(text[len("```json\n") : -len("\n```")])
    assert isinstance(value, list) and set(value[0]) == {"chapter", "title", "contents"}
    assert isinstance(value[0]["contents"], list)
