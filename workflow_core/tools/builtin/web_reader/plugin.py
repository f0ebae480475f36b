"""Built-in ``web_reader`` plugin: page text from file:// or loopback URLs only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_core.tools.base import ToolError, ToolResult
from workflow_core.tools.pages import Page, fetch_local_page


class WebReaderPlugin:
    def __init__(self, settings: Mapping[str, str], directory: Path) -> None:
        self.settings = settings

    def invoke(
        self, tool: str, params: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> ToolResult:
        if tool != "read_page":
            raise ToolError(f"web_reader: unknown tool {tool!r}")
        page: Page = fetch_local_page(str(params["url"]))
        return ToolResult(
            text=f"Title: {page.title}\nURL Source: {page.url}\n\n{page.text}",
            json=({"url": page.url, "title": page.title},),
        )
