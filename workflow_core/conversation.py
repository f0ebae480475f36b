"""Chat state that survives between turns of an advanced-chat conversation (SPEC §5.6).

Kept per conversation: the first turn's inputs, conversation-variable values and the list of
(query, reply) turns (LLM memory, ``sys.dialogue_count``). Node outputs do not survive.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workflow_core.dsl import VariableSpec
from workflow_core.errors import InputError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation."""

    query: str
    reply: str


@dataclass
class ConversationState:
    inputs: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)


def declared_value(var: VariableSpec) -> Any:
    """A conversation variable's DSL default, converted to its ``value_type``."""
    value = var.value
    if isinstance(value, str):
        if var.value_type == "number" and value.strip():
            number = float(value)
            return int(number) if number.is_integer() else number
        if var.value_type == "boolean":
            return value.strip().lower() in ("true", "1")
        if var.value_type == "object" or var.value_type.startswith("array"):
            return json.loads(value) if value.strip() else ([] if "array" in var.value_type else {})
    if value is None:
        zero: dict[str, Any] = {"string": "", "number": 0, "object": {}, "boolean": False}
        return zero.get(var.value_type, [] if var.value_type.startswith("array") else None)
    return value


class ConversationStore(Protocol):
    """Where conversations persist. ``load`` returns ``None`` for an unknown conversation."""

    def load(self, app_id: str, conversation_id: str) -> ConversationState | None: ...

    def save(self, app_id: str, conversation_id: str, state: ConversationState) -> None: ...


def check_conversation_id(conversation_id: str) -> str:
    if not _SAFE_ID.match(conversation_id):
        raise InputError(
            f"conversation id must match {_SAFE_ID.pattern} (letters, digits, '_', '.', '-'), "
            f"got {conversation_id!r}"
        )
    return conversation_id


class MemoryConversationStore:
    """In-process store (tests, embedding)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], ConversationState] = {}

    def load(self, app_id: str, conversation_id: str) -> ConversationState | None:
        state = self._data.get((app_id, conversation_id))
        if state is None:
            return None
        return ConversationState(dict(state.inputs), dict(state.variables), list(state.turns))

    def save(self, app_id: str, conversation_id: str, state: ConversationState) -> None:
        self._data[(app_id, conversation_id)] = state


class JsonFileConversationStore:
    """One JSON file per conversation: ``<root>/<app_id>/<conversation_id>.json``.

    Writes are atomic (temp file + rename), so a crash never leaves half a file.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, app_id: str, conversation_id: str) -> Path:
        return self.root / app_id / f"{check_conversation_id(conversation_id)}.json"

    def load(self, app_id: str, conversation_id: str) -> ConversationState | None:
        path = self._path(app_id, conversation_id)
        if not path.is_file():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return ConversationState(
                inputs=dict(raw["inputs"]),
                variables=dict(raw["variables"]),
                turns=[Turn(str(t["query"]), str(t["reply"])) for t in raw["turns"]],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a flowscope conversation file: {exc}") from exc

    def save(self, app_id: str, conversation_id: str, state: ConversationState) -> None:
        path = self._path(app_id, conversation_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "inputs": state.inputs,
            "variables": state.variables,
            "turns": [{"query": t.query, "reply": t.reply} for t in state.turns],
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, default=str)
        os.replace(tmp, path)
