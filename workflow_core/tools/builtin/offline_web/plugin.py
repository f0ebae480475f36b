"""Built-in ``offline-web`` plugin: search / reader tools answered from local fixture pages.

It stands in for tavily, jina, duckduckgo, webscraper and wikipedia without calling them; the
output layouts follow those tools so corpus workflows downstream (regex URL extraction, ``[0]
['href']`` indexing, the ``TEXT:`` marker) behave as with the real services.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_core.tools.base import ToolError, ToolResult
from workflow_core.tools.pages import Page, fetch_local_page, load_fixture_pages, rank_pages


class OfflineWebPlugin:
    def __init__(self, settings: Mapping[str, str], directory: Path) -> None:
        fixture_dir = Path(settings.get("fixture_dir") or directory / "fixtures")
        self.pages = load_fixture_pages(fixture_dir)
        self._by_url = {page.url: page for page in self.pages}

    def invoke(
        self, tool: str, params: Mapping[str, Any], credentials: Mapping[str, str]
    ) -> ToolResult:
        if tool in ("tavily_search", "ddgo_search", "wikipedia_search"):
            return self.search(tool, str(params["query"]), int(params.get("max_results") or 5))
        if tool in ("jina_reader", "webscraper"):
            page = self.read(str(params["url"]))
            if tool == "jina_reader":
                header = f"Title: {page.title}\n\nURL Source: {page.url}\n\nMarkdown Content:\n"
            else:
                header = (
                    f"URL: {page.url}\nTITLE: {page.title}\n"
                    f"DESCRIPTION: {_snippet(page)}\nTEXT:\n\n"
                )
            return ToolResult(text=header + page.text)
        raise ToolError(f"offline-web: unknown tool {tool!r}")

    def search(self, tool: str, query: str, limit: int) -> ToolResult:
        if tool == "wikipedia_search":
            hits = rank_pages(self.pages, query, 1)
            return ToolResult(text="\n\n".join(f"{p.title}\n{p.text}" for p in hits))
        hits = rank_pages(self.pages, query, limit)
        if tool == "ddgo_search":
            return ToolResult(
                text="\n".join(f"{p.title}: {p.url}" for p in hits),
                json=tuple({"title": p.title, "href": p.url, "body": _snippet(p)} for p in hits),
            )
        return ToolResult(
            text="\n\n".join(f"{p.title}\n{p.url}\n{_snippet(p)}" for p in hits),
            json=tuple({"title": p.title, "url": p.url, "content": _snippet(p)} for p in hits),
        )

    def read(self, url: str) -> Page:
        page = self._by_url.get(url.strip())
        if page is not None:
            return page
        try:
            return fetch_local_page(url.strip())
        except ToolError as exc:
            raise ToolError(
                f"offline-web: {url!r} is not one of the {len(self.pages)} fixture pages ({exc})"
            ) from exc


def _snippet(page: Page, size: int = 300) -> str:
    text = " ".join(page.text.split())
    return text if len(text) <= size else text[:size].rstrip() + "…"
