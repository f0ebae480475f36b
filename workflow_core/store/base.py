"""The run store seam: what the runner (and ``flowscope run``) needs from a run store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from workflow_core.conversation import ConversationStore
from workflow_core.dsl import DifyApp
from workflow_core.events import RunListener


@dataclass(frozen=True)
class AppVersion:
    """What a store knows about a registered app: its DSL version and its prompt versions."""

    workflow_id: int
    name: str
    content_hash: str
    prompt_versions: Mapping[str, int]  # llm node id -> prompt version id


class RunStore(RunListener, ConversationStore, Protocol):
    """Receives a runner's events and keeps its conversations.

    Wiring: ``store.register_app(app)`` once, then
    ``WorkflowRunner(app, listeners=[store], conversation_store=store)``.
    """

    def register_app(self, app: DifyApp) -> AppVersion: ...

    def close(self) -> None: ...
