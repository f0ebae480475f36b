"""Local web pages for the offline plugins: fixture pages and file:// / loopback fetching."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml

from workflow_core.documents import html_to_text
from workflow_core.http_client import HttpClient, HttpRequestSpec, Timeouts
from workflow_core.tools.base import ToolError

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n?", re.DOTALL)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    text: str


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_local_page(url: str, client: HttpClient | None = None) -> Page:
    """Read a ``file://`` URL or an ``http(s)://`` URL on a loopback host; refuse anything else."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(url2pathname(parsed.path))
        try:
            raw = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ToolError(f"cannot read {url}: {exc}") from exc
        is_html = path.suffix.lower() in (".html", ".htm")
    elif parsed.scheme in ("http", "https") and _is_loopback(parsed.hostname or ""):
        response = (client or HttpClient()).send(
            HttpRequestSpec(method="GET", url=url, timeouts=Timeouts(10, 30, 30))
        )
        if not response.ok:
            raise ToolError(f"GET {url} answered HTTP {response.status_code}")
        raw, is_html = response.body, "html" in response.content_type
    else:
        raise ToolError(
            f"refusing {url!r}: only file:// and loopback http(s) URLs are read "
            "(flowscope's page reader works offline)"
        )
    if is_html:
        title, text = html_to_text(raw)
        return Page(url=url, title=title or url, text=text)
    return Page(url=url, title=path.stem if parsed.scheme == "file" else url, text=raw)


def load_fixture_pages(directory: Path) -> list[Page]:
    """``*.md`` / ``*.html`` files; Markdown pages carry ``url`` and ``title`` in front matter."""
    if not directory.is_dir():
        raise ToolError(f"offline web fixture directory {directory} does not exist")
    pages: list[Page] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in (".md", ".html", ".htm"):
            continue
        raw = path.read_text(encoding="utf-8")
        meta: dict[str, str] = {}
        if path.suffix.lower() == ".md":
            match = _FRONT_MATTER.match(raw)
            if match:
                loaded = yaml.safe_load(match.group(1)) or {}
                if not isinstance(loaded, dict):
                    raise ToolError(f"{path}: front matter must be a mapping")
                meta = {str(k): str(v) for k, v in loaded.items()}
                raw = raw[match.end() :]
            title, text = meta.get("title", path.stem), raw.strip()
        else:
            title, text = html_to_text(raw)
        pages.append(Page(url=meta.get("url", path.resolve().as_uri()), title=title, text=text))
    return pages


def rank_pages(pages: list[Page], query: str, limit: int) -> list[Page]:
    """Pages ordered by how many query words they contain (ties keep file order); ``limit`` kept.

    Every page is a candidate, so a search always answers with up to ``limit`` pages — the
    fixture set is small and the workflows downstream index the first hits.
    """
    words = {w.lower() for w in _WORD.findall(query)}

    def score(page: Page) -> int:
        haystack = f"{page.title}\n{page.text}".lower()
        return sum(haystack.count(w) for w in words)

    ranked = sorted(enumerate(pages), key=lambda ip: (-score(ip[1]), ip[0]))
    return [page for _, page in ranked[: max(limit, 0)]]
