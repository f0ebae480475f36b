"""OpenAI-compatible chat completions over httpx (``POST {base_url}/chat/completions``)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from workflow_core.errors import ProviderError
from workflow_core.providers.base import (
    ChatMessage,
    LLMClient,
    LLMRequest,
    LLMResponse,
    ToolCall,
    Usage,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_PASSED_PARAMETERS = frozenset(
    {"temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed"}
)


class OpenAIClient(LLMClient):
    """Any server speaking OpenAI's chat completions API (OpenAI, DeepSeek, vLLM, Ollama ...)."""

    provider_name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = 60.0,
        model_override: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.model_override = model_override
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_seconds, transport=transport
        )

    def close(self) -> None:
        self._client.close()

    def _invoke(self, request: LLMRequest) -> LLMResponse:
        body = self._body(request)
        try:
            reply = self._client.post("/chat/completions", json=body)
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"openai provider: request to {self.base_url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if reply.status_code >= 400:
            raise ProviderError(
                f"openai provider: {self.base_url} answered HTTP {reply.status_code}: "
                f"{_error_text(reply)}"
            )
        try:
            return self._parse(reply.json(), body["model"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(
                f"openai provider: malformed chat completion from {self.base_url}: {exc}"
            ) from exc

    def _body(self, request: LLMRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_override or request.model,
            "messages": [_message(m) for m in request.messages],
        }
        body.update({k: v for k, v in request.parameters.items() if k in _PASSED_PARAMETERS})
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        if request.response_format == "json":
            body["response_format"] = {"type": "json_object"}
        return body

    def _parse(self, payload: dict[str, Any], model: str) -> LLMResponse:
        choice = payload["choices"][0]
        message = choice["message"]
        usage = payload.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        calls = tuple(
            ToolCall(
                id=str(call.get("id", "")),
                name=call["function"]["name"],
                arguments=json.loads(call["function"].get("arguments") or "{}"),
            )
            for call in message.get("tool_calls") or []
        )
        return LLMResponse(
            text=message.get("content") or "",
            model=str(payload.get("model") or model),
            usage=Usage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                cached_input_tokens=int(details.get("cached_tokens") or 0),
            ),
            tool_calls=calls,
            finish_reason=str(choice.get("finish_reason") or "stop"),
            provider=self.provider_name,
        )


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in message.tool_calls
        ]
    return out


def _error_text(reply: httpx.Response) -> str:
    try:
        error = reply.json().get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error or reply.text[:300])
    except ValueError:
        return reply.text[:300]
