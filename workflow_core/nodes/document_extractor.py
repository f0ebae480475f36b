"""document-extractor: text of a file or a list of files (SPEC §7.11).

Files are read from their ``url`` (``file://`` locally, ``http(s)://`` through the run's
``HttpClient``); text comes from :mod:`workflow_core.documents` (txt/md/html/csv/json/yaml/xml,
PDF via pypdf, DOCX via python-docx).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from pydantic import Field

from workflow_core.documents import DocumentError, DocumentExtractor
from workflow_core.http_client import HttpClient, HttpRequestSpec, default_http_client
from workflow_core.nodes.base import Node, NodeData, NodeOutcome, register

if TYPE_CHECKING:
    from workflow_core.context import RunContext


def read_file_bytes(file: Mapping[str, Any], client: HttpClient | None = None) -> tuple[bytes, str]:
    """(content, filename) of a Dify file value."""
    if not isinstance(file, Mapping):
        raise DocumentError(f"expected a file value, got {type(file).__name__}")
    name = str(file.get("filename") or file.get("name") or "file")
    url = str(file.get("url") or file.get("remote_url") or "")
    parsed = urlparse(url)
    if parsed.scheme == "file" or (not parsed.scheme and file.get("path")):
        path = Path(url2pathname(parsed.path) if parsed.scheme else str(file["path"]))
        try:
            return path.read_bytes(), name
        except OSError as exc:
            raise DocumentError(f"{name}: cannot read {path}: {exc}") from exc
    if parsed.scheme in ("http", "https"):
        response = (client or default_http_client()).send(HttpRequestSpec(method="GET", url=url))
        if not response.ok:
            raise DocumentError(f"{name}: GET {url} answered HTTP {response.status_code}")
        return response.content, name
    raise DocumentError(f"{name}: file has no readable url (got {url!r})")


class DocumentExtractorData(NodeData):
    variable_selector: list[str] = Field(min_length=2)
    is_array_file: bool = False


@register("document-extractor")
class DocumentExtractorNode(Node[DocumentExtractorData]):
    data_model = DocumentExtractorData

    def run(self, ctx: RunContext) -> NodeOutcome:
        selector = self.config.variable_selector
        value = ctx.get(selector)
        if value is None:
            raise self.node_error(f"variable {'.'.join(selector)} is missing or null")
        client = ctx.services.http
        extractor: DocumentExtractor = ctx.services.documents or DocumentExtractor()
        try:
            if isinstance(value, list):
                text: str | list[str] = [self._extract(f, client, extractor) for f in value]
            else:
                text = self._extract(value, client, extractor)
        except DocumentError as exc:
            raise self.node_error(str(exc)) from exc
        return NodeOutcome(outputs={"text": text}, inputs={"files": _names(value)})

    @staticmethod
    def _extract(file: Any, client: HttpClient | None, extractor: DocumentExtractor) -> str:
        data, name = read_file_bytes(file, client)
        return extractor.extract(data, name, file.get("mime_type"))


def _names(value: Any) -> list[str]:
    files = value if isinstance(value, list) else [value]
    return [str(f.get("filename", "")) for f in files if isinstance(f, Mapping)]
