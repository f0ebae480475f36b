"""Document extraction (txt/md/html/pdf/docx) and the document-extractor node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import docx
import pytest
from ext_support import app_from, end_node, start_node

from workflow_core.context import Services
from workflow_core.documents import DocumentError, DocumentExtractor, extract_file, extract_text
from workflow_core.runner import WorkflowRunner


def make_pdf(path: Path, text: str) -> None:
    """A one-page PDF with ``text`` in Helvetica (hand-built; xref offsets computed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))


def make_docx(path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Quarterly report")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "revenue"
    table.rows[0].cells[1].text = "42"
    document.save(str(path))


def test_pdf_docx_html_and_text_are_extracted(tmp_path: Path) -> None:
    make_pdf(tmp_path / "a.pdf", "Hello from a PDF")
    make_docx(tmp_path / "b.docx")
    (tmp_path / "c.html").write_text(
        "<html><title>T</title><body><p>para</p><style>x</style></body>"
    )
    (tmp_path / "d.md").write_text("# Title\n\nbody\x00 text")
    assert "Hello from a PDF" in extract_file(tmp_path / "a.pdf")
    assert extract_file(tmp_path / "b.docx") == "Quarterly report\nrevenue | 42"
    assert extract_file(tmp_path / "c.html") == "T\n\npara"
    assert extract_file(tmp_path / "d.md") == "# Title\n\nbody text"


def test_unsupported_and_corrupt_documents_name_the_file() -> None:
    with pytest.raises(DocumentError, match=r"photo\.png: unsupported document type '\.png'"):
        extract_text(b"\x89PNG", "photo.png")
    with pytest.raises(DocumentError, match=r"broken\.pdf: cannot extract text \(\.pdf\)"):
        extract_text(b"not a pdf at all", "broken.pdf")
    with pytest.raises(DocumentError, match=r"data\.json: cannot extract text"):
        extract_text(b"{oops", "data.json")
    # No extension: the MIME type decides.
    assert extract_text(b"plain", "upload", "text/markdown") == "plain"


def extractor_app(is_list: bool) -> object:
    file_type = "file-list" if is_list else "file"
    nodes = [
        start_node({"doc": file_type}),
        {
            "id": "extract",
            "data": {
                "type": "document-extractor",
                "title": "Extract",
                "variable_selector": ["start", "doc"],
                "is_array_file": is_list,
            },
        },
        end_node({"text": ["extract", "text"]}),
    ]
    return app_from("extract", nodes, [("start", "extract"), ("extract", "end")])


def test_document_extractor_node_single_file_and_list(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    make_pdf(tmp_path / "a.pdf", "PDF body")
    (tmp_path / "b.txt").write_text("text body")
    single = WorkflowRunner(extractor_app(False), services=make_services()).run(  # type: ignore[arg-type]
        {"doc": str(tmp_path / "a.pdf")}
    )
    assert single.status == "succeeded", single.error
    assert "PDF body" in single.outputs["text"]
    many = WorkflowRunner(extractor_app(True), services=make_services()).run(  # type: ignore[arg-type]
        {"doc": [str(tmp_path / "a.pdf"), str(tmp_path / "b.txt")]}
    )
    assert many.status == "succeeded", many.error
    assert isinstance(many.outputs["text"], list) and many.outputs["text"][1] == "text body"


def test_document_extractor_fails_on_unsupported_file_with_node_id(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG")
    result = WorkflowRunner(extractor_app(False), services=make_services()).run(  # type: ignore[arg-type]
        {"doc": str(tmp_path / "x.png")}
    )
    assert result.status == "failed"
    assert "extract (document-extractor)" in (result.error or "")
    assert "unsupported document type '.png'" in (result.error or "")


def test_documents_service_slot_is_used_when_set(
    tmp_path: Path, make_services: Callable[..., Services]
) -> None:
    class Upper(DocumentExtractor):
        def extract(self, data: bytes, filename: str, mime_type: str | None = None) -> str:
            return super().extract(data, filename, mime_type).upper()

    (tmp_path / "b.txt").write_text("text body")
    services = replace(make_services(), documents=Upper())
    result = WorkflowRunner(extractor_app(False), services=services).run(  # type: ignore[arg-type]
        {"doc": str(tmp_path / "b.txt")}
    )
    assert result.outputs["text"] == "TEXT BODY"
