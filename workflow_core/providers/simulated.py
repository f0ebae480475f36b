"""The offline provider: deterministic answers, realistic token usage, configurable latency.

Answers take the shape the asking node expects (SPEC §10), decided in this order:

1. a scripted response for the node (``FLOWSCOPE_SIM_SCRIPT``: YAML keyed by node id; a string, a
   list of strings used in turn, or ``{text, tool_calls}``);
2. tools offered → a tool call with arguments built from the tool's JSON schema (the parameter
   extractor's ``extract_parameters`` function, or an agent's first tool); after a tool result, a
   final text that cites it;
3. a ``<categories>`` block (question-classifier) → ``{"category_id", "category_name"}``;
4. a ``<parameters_schema>`` block (parameter-extractor, prompt mode) → one typed JSON object;
5. a prompt asking for JSON and showing an example → a fenced JSON value with the example's keys;
6. otherwise deterministic prose that quotes the user's message.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from workflow_core.errors import ProviderError
from workflow_core.providers.base import (
    LLMClient,
    LLMRequest,
    LLMResponse,
    ToolCall,
    ToolSpec,
    Usage,
)
from workflow_core.providers.tokens import count_message_tokens, count_tokens

FALLBACK_MODEL = "gpt-4o-mini"
_URL = re.compile(r"https?://[^\s\"'<>)\]]+")
_BLOCK = re.compile(r"<(categories|parameters_schema)>\s*(.*?)\s*</\1>", re.S)
_EXAMPLE_KEY = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*:\s*(\S)')
_SENTENCES = (
    "Here is a concise answer based on the request.",
    "The key points are summarised below.",
    "This response was produced by flowscope's simulated model.",
    "Let me know if you need more detail on any part.",
)


def load_script(path: str | Path) -> dict[str, Any]:
    """Read a scripted-response file (YAML mapping: node id → response)."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProviderError(f"{file}: cannot read the simulated-LLM script: {exc}") from exc
    if not isinstance(data, dict):
        raise ProviderError(f"{file}: a simulated-LLM script must map node ids to responses")
    return {str(k): v for k, v in data.items()}


@lru_cache(maxsize=256)
def priced_model(model: str, provider: str) -> str:
    """``model`` if genai-prices can price it, else :data:`FALLBACK_MODEL`."""
    try:
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price
    except ImportError:  # pricing lives in the collector extra
        return model or FALLBACK_MODEL
    for provider_id in (provider or None, None):
        try:
            calc_price(PriceUsage(input_tokens=1, output_tokens=1), model, provider_id=provider_id)
            return model
        except Exception:  # genai-prices raises LookupError / ValueError for unknown models
            continue
    return FALLBACK_MODEL


def normalise_provider(provider: str) -> str:
    """``langgenius/openai/openai`` → ``openai`` (SPEC §2 item 6)."""
    parts = [p for p in provider.split("/") if p]
    return parts[1] if len(parts) >= 2 else provider


class SimulatedLLM(LLMClient):
    provider_name = "simulated"

    def __init__(self, *, latency_ms: float = 0.0, script: Mapping[str, Any] | None = None) -> None:
        self.latency_ms = latency_ms
        self.script = dict(script or {})
        self._turns: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def _invoke(self, request: LLMRequest) -> LLMResponse:
        text, calls = self._answer(request)
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        provider = normalise_provider(request.provider)
        prompt = [m.content for m in request.messages]
        prompt += [json.dumps(t.parameters) for t in request.tools]
        output = count_tokens(text) + sum(count_tokens(json.dumps(c.arguments)) for c in calls)
        return LLMResponse(
            text=text,
            model=priced_model(request.model, provider),
            usage=Usage(input_tokens=count_message_tokens(prompt), output_tokens=max(1, output)),
            tool_calls=calls,
            finish_reason="tool_calls" if calls else "stop",
            provider=provider or self.provider_name,
        )

    # -- shapes ---------------------------------------------------------------------------
    def _answer(self, request: LLMRequest) -> tuple[str, tuple[ToolCall, ...]]:
        scripted = self._scripted(request)
        if scripted is not None:
            return scripted
        prompt = "\n".join(m.content for m in request.messages)
        seed = _digest(request.model, prompt)
        if request.tools:
            if request.messages and request.messages[-1].role == "tool":
                return _after_tool(request), ()
            tool = request.tools[0]
            args = _arguments(tool, prompt, seed)
            return "", (ToolCall(id=f"call_{seed[:12]}", name=tool.name, arguments=args),)
        blocks = dict(_BLOCK.findall(prompt))
        if "categories" in blocks:
            return _classify(blocks["categories"], _user_text(request)), ()
        if "parameters_schema" in blocks:
            schema = json.loads(blocks["parameters_schema"])
            return json.dumps(_from_schema(schema, prompt, seed), ensure_ascii=False), ()
        if "json" in prompt.lower() and _EXAMPLE_KEY.search(prompt):
            return _fenced_example(prompt, _user_text(request)), ()
        if request.response_format == "json":
            return json.dumps({"answer": _prose(request, seed)}, ensure_ascii=False), ()
        return _prose(request, seed), ()

    def _scripted(self, request: LLMRequest) -> tuple[str, tuple[ToolCall, ...]] | None:
        if not request.node_id or request.node_id not in self.script:
            return None
        entry = self.script[request.node_id]
        if isinstance(entry, list):
            with self._lock:
                counter = self._turns.setdefault(request.node_id, itertools.count())
                index = next(counter)
            entry = entry[min(index, len(entry) - 1)] if entry else ""
        if isinstance(entry, dict):
            calls = tuple(
                ToolCall(
                    id=f"call_{i}", name=str(c["name"]), arguments=dict(c.get("arguments", {}))
                )
                for i, c in enumerate(entry.get("tool_calls") or [])
            )
            return str(entry.get("text", "")), calls
        return str(entry), ()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def _user_text(request: LLMRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.content
    return request.messages[-1].content if request.messages else ""


def _prose(request: LLMRequest, seed: str) -> str:
    user = " ".join(_user_text(request).split())
    quote = user if len(user) <= 160 else user[:157] + "..."
    count = 1 + int(seed[:2], 16) % 3
    start = int(seed[2:4], 16) % len(_SENTENCES)
    extra = " ".join(_SENTENCES[(start + i) % len(_SENTENCES)] for i in range(count))
    return f"Regarding \u201c{quote}\u201d: {extra}"


def _after_tool(request: LLMRequest) -> str:
    result = request.messages[-1].content
    snippet = " ".join(result.split())[:300]
    return f"Based on the tool result: {snippet}"


def _classify(categories: str, query: str) -> str:
    options = json.loads(categories)
    if not options:
        return "{}"
    chosen = next((o for o in options if str(o["category_name"]) in query), None)
    if chosen is None:
        chosen = options[int(_digest(query)[:8], 16) % len(options)]
    return json.dumps(
        {"category_id": chosen["category_id"], "category_name": chosen["category_name"]},
        ensure_ascii=False,
    )


def _arguments(tool: ToolSpec, prompt: str, seed: str) -> dict[str, Any]:
    value = _from_schema(tool.parameters, prompt, seed)
    return value if isinstance(value, dict) else {}


def _from_schema(schema: Mapping[str, Any], prompt: str, seed: str, name: str = "") -> Any:
    """A deterministic value of the JSON-schema type, using the prompt where it helps."""
    kind = schema.get("type", "string")
    if schema.get("enum"):
        return schema["enum"][int(seed[:4], 16) % len(schema["enum"])]
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _from_schema(v, prompt, _digest(seed, k), k) for k, v in props.items()}
    if kind == "array":
        items = schema.get("items") or {"type": "string"}
        return [_from_schema(items, prompt, _digest(seed, str(i)), name) for i in range(2)]
    if kind in ("number", "integer"):
        return 1 + int(seed[:4], 16) % 9
    if kind == "boolean":
        return True
    hint = f"{name} {schema.get('description', '')}".lower()
    urls = _URL.findall(prompt)
    if urls and any(w in hint for w in ("url", "link", "链接", "网址", "image")):
        return urls[0]
    words = [w for w in re.findall(r"\w+", prompt.split("</parameters_schema>")[-1]) if w]
    topic = " ".join(words[-4:]) if words else "topic"
    return f"{name or 'value'} about {topic} #{int(seed[:2], 16) % 10}"


def _fenced_example(prompt: str, query: str) -> str:
    """A fenced JSON value shaped like the prompt's example (SPEC §10, dify_course_demo)."""
    keys = list(dict.fromkeys(_EXAMPLE_KEY.findall(prompt)))
    topic = " ".join(query.split())[:40] or "topic"

    def item(n: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, opener in keys:
            if opener == "[":
                out[key] = [f"{n}.{i} {topic} part {i}" for i in range(1, 4)]
            elif opener.isdigit():
                out[key] = n
            else:
                out[key] = f"{key} {n}: {topic}"
        return out

    starts_with_list = prompt.find("[") != -1 and prompt.find("[") < prompt.find("{")
    value: Any = [item(n) for n in range(1, 4)] if starts_with_list else item(1)
    return "```json\n" + json.dumps(value, ensure_ascii=False, indent=2) + "\n```"
