"""Node types, one module each. :func:`load_node_types` imports them so they register."""

from __future__ import annotations

import importlib

#: Node modules of this package (module name = node type with ``_`` for ``-``).
_CORE_MODULES = (
    "start",
    "end",
    "answer",
    "llm",
    "code",
    "template_transform",
    "if_else",
    "variable_aggregator",
    "assigner",
    "list_operator",
    "question_classifier",
    "parameter_extractor",
    "iteration",
    "loop",
)
#: Node modules contributed by the knowledge / tool / HTTP / document work; while one is absent,
#: its node type is still loadable (it validates, and fails clearly when run).
_EXTENSION_MODULES = {
    "knowledge_retrieval": "knowledge-retrieval",
    "tool": "tool",
    "agent": "agent",
    "http_request": "http-request",
    "document_extractor": "document-extractor",
}

_loaded = False


def load_node_types() -> None:
    """Import every node module once (registration happens at import)."""
    global _loaded
    if _loaded:
        return
    for name in _CORE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    from workflow_core.nodes.unavailable import register_unavailable

    for name, node_type in _EXTENSION_MODULES.items():
        qualified = f"{__name__}.{name}"
        try:
            importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name != qualified:
                raise
            register_unavailable(node_type)
    _loaded = True
