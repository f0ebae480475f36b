"""Pro-code workflows: build a Dify graph in Python, export DSL, import DSL, generate code."""

from workflow_core.builder.codegen import to_python
from workflow_core.builder.graph import EdgeDef, NodeDef, NodeRef, Workflow

__all__ = ["EdgeDef", "NodeDef", "NodeRef", "Workflow", "to_python"]
