"""A stand-in for ``dify-plugin-daemon-slim`` speaking its line protocol (tests only).

graphon's ``SlimClient`` runs ``<binary> -id PLUGIN -action ACTION`` with ``{"data": {...}}`` on
stdin and reads JSON events (``chunk`` / ``done`` / ``error``), one per line, from stdout. This
answers the three actions graphon's ``SlimLLM`` uses, deterministically: the model schema, a
token count, and an LLM stream of two chunks whose last one carries the usage; plus a tool
plugin (``extract`` of its manifest, ``invoke_tool`` answering one text message).
"""

from __future__ import annotations

import json
import sys


def emit(event: str, data: object = None) -> None:
    sys.stdout.write(json.dumps({"event": event, "data": data}) + "\n")


TOOL_MANIFEST = {
    "manifest": {
        "tool": {
            "identity": {"name": "time"},
            "tools": [{"identity": {"name": "current_time"}, "parameters": []}],
        }
    }
}


def main() -> int:
    if sys.argv[1:2] == ["extract"]:
        sys.stdout.write(json.dumps(TOOL_MANIFEST))
        return 0
    action = sys.argv[sys.argv.index("-action") + 1]
    request = json.loads(sys.stdin.read() or "{}").get("data", {})
    model = request.get("model", "unknown")
    if action == "get_ai_model_schemas":
        schema = {
            "model": model,
            "label": {"en_US": model},
            "model_type": "llm",
            "fetch_from": "predefined-model",
            "model_properties": {"mode": "chat", "context_size": 8192},
        }
        emit("chunk", {"model_schema": schema})
    elif action == "get_llm_num_tokens":
        emit("chunk", {"num_tokens": 12})
    elif action == "invoke_llm":
        prompt = " ".join(str(m.get("content", "")) for m in request.get("prompt_messages", []))
        words = ["slug-", "answer"]
        for i, word in enumerate(words):
            delta: dict[str, object] = {"index": i, "message": {"content": word}}
            if i == len(words) - 1:
                delta["usage"] = {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": len(words),
                    "total_tokens": len(prompt.split()) + len(words),
                }
                delta["finish_reason"] = "stop"
            emit("chunk", {"delta": delta})
    elif action == "invoke_tool":
        zone = request.get("tool_parameters", {}).get("timezone", "UTC")
        emit("chunk", {"type": "text", "message": {"text": f"12:00 {zone}"}})
    else:
        emit("error", {"message": f"fake slim: unknown action {action}"})
        return 1
    emit("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
