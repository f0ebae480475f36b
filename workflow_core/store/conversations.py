"""Chat state ↔ the ``conversations.state`` JSON document.

The state is kept verbatim (it is the engine's memory: redacting or cutting it would change the
next turn); only characters no database can hold are replaced (``payload.storable``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from workflow_core.conversation import ConversationState, Turn
from workflow_core.store.errors import StoreError
from workflow_core.store.payload import storable


def state_document(state: ConversationState) -> Any:
    """The JSON document stored for ``state``."""
    return storable(
        {
            "inputs": _json_ready(state.inputs),
            "variables": _json_ready(state.variables),
            "turns": [{"query": t.query, "reply": t.reply} for t in state.turns],
        }
    )


def state_from_document(document: Any, app_id: str, conversation_id: str) -> ConversationState:
    """The chat state in a stored document; a clear error names a malformed one."""
    try:
        return ConversationState(
            inputs=dict(document["inputs"]),
            variables=dict(document["variables"]),
            turns=[Turn(str(t["query"]), str(t["reply"])) for t in document["turns"]],
        )
    except (KeyError, TypeError) as exc:
        raise StoreError(
            f"run store: conversation {conversation_id} of app {app_id} has a malformed "
            f"state ({type(exc).__name__}: {exc}); expected inputs, variables and turns"
        ) from exc


def _json_ready(value: Mapping[str, Any]) -> Any:
    """Values JSON cannot hold (dates, files) become strings."""
    return json.loads(json.dumps(dict(value), ensure_ascii=False, default=str))
