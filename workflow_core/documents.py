"""Text extraction from documents (document-extractor node, ``flowscope kb add``).

Text-like formats are decoded natively; PDF goes through pypdf, DOCX through python-docx, HTML
through lxml. Anything else is refused with an error naming the file and the supported types.
"""

from __future__ import annotations

import io
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import lxml.html

from workflow_core.errors import FlowscopeError

TEXT_EXTENSIONS = frozenset(
    {".txt", ".md", ".markdown", ".csv", ".json", ".yaml", ".yml", ".xml", ".vtt", ".properties"}
)
HTML_EXTENSIONS = frozenset({".html", ".htm"})
SUPPORTED_EXTENSIONS = TEXT_EXTENSIONS | HTML_EXTENSIONS | {".pdf", ".docx"}
_MIME_TO_EXTENSION = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/html": ".html",
    "text/markdown": ".md",
    "application/json": ".json",
    "text/csv": ".csv",
    "application/x-yaml": ".yaml",
}


class DocumentError(FlowscopeError):
    """A document could not be read or its type is not supported."""


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n".join(parts).strip()


_BLOCK_TAGS = (
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "header", "footer", "pre", "blockquote", "table", "ul", "ol",
)  # fmt: skip


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible body text) of an HTML document; scripts/styles dropped, one line per
    block element."""
    doc = lxml.html.fromstring(html or "<html></html>")
    title = (doc.findtext(".//title") or "").strip()
    for bad in doc.xpath("//script|//style|//noscript|//head"):
        bad.drop_tree()
    for element in doc.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    text = "\n".join(line.strip() for line in doc.text_content().splitlines() if line.strip())
    return title, text


def _html(data: bytes) -> str:
    title, text = html_to_text(_decode(data))
    return f"{title}\n\n{text}" if title else text


def _json(data: bytes) -> str:
    # Keep the document as written, but reject a file that claims to be JSON and is not.
    text = _decode(data)
    json.loads(text)
    return text


_EXTRACTORS: dict[str, Callable[[bytes], str]] = {
    ".pdf": _pdf,
    ".docx": _docx,
    ".html": _html,
    ".htm": _html,
    ".json": _json,
}


def extension_for(filename: str, mime_type: str | None = None) -> str:
    """The lower-case extension of ``filename``, else the one of ``mime_type``, else ``''``."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix:
        return suffix
    if mime_type:
        return _MIME_TO_EXTENSION.get(mime_type) or mimetypes.guess_extension(mime_type) or ""
    return ""


def extract_text(data: bytes, filename: str, mime_type: str | None = None) -> str:
    """Text of a document given as bytes; ``filename`` (or ``mime_type``) selects the parser."""
    extension = extension_for(filename, mime_type)
    if extension not in SUPPORTED_EXTENSIONS:
        raise DocumentError(
            f"{filename}: unsupported document type {extension or mime_type or '(none)'!r}; "
            f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
        )
    parser = _EXTRACTORS.get(extension, _decode)
    try:
        return parser(data).replace("\x00", "")
    except DocumentError:
        raise
    except Exception as exc:  # every parser has its own exception tree
        raise DocumentError(f"{filename}: cannot extract text ({extension}): {exc}") from exc


def extract_file(path: Path) -> str:
    """Text of the document at ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc}") from exc
    return extract_text(data, path.name)


class DocumentExtractor:
    """The ``documents`` service of a run: text of a document given as bytes.

    Subclass and pass an instance in ``Services(documents=...)`` to add formats; the
    document-extractor node uses this default when the slot is empty.
    """

    def extract(self, data: bytes, filename: str, mime_type: str | None = None) -> str:
        return extract_text(data, filename, mime_type)
