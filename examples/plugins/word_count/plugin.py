"""Example plugin: counts words. Shows settings (constructor) and credentials (per call)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_core.tools.base import ToolResult


class WordCountPlugin:
    def __init__(self, settings: Mapping[str, str], directory: Path) -> None:
        self.min_length = int(settings.get("min_length", "1"))

    def invoke(
        self, tool: str, params: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> ToolResult:
        words = [w for w in str(params["text"]).split() if len(w) >= self.min_length]
        return ToolResult(text=str(len(words)), json=({"count": len(words)},))
