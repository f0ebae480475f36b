"""File values as Dify passes them around (``sys.files``, file inputs, list-operator keys)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

_TYPES = {
    "image": {"jpg", "jpeg", "png", "gif", "webp", "svg"},
    "audio": {"mp3", "m4a", "wav", "webm", "amr", "mpga"},
    "video": {"mp4", "mov", "mpeg"},
    "document": {
        "txt", "md", "markdown", "mdx", "pdf", "html", "htm", "xlsx", "xls", "docx", "doc",
        "csv", "eml", "msg", "pptx", "ppt", "xml", "epub", "json", "yaml", "yml", "vtt",
        "properties",
    },
}  # fmt: skip


def file_type(extension: str) -> str:
    ext = extension.lower().lstrip(".")
    return next((kind for kind, exts in _TYPES.items() if ext in exts), "custom")


def file_from_path(path: str | Path) -> dict[str, Any]:
    """A local file as a Dify file value (``transfer_method: local_file``)."""
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(str(file))
    extension = file.suffix.lower()
    return {
        "dify_model_identity": "__dify__file__",
        "type": file_type(extension),
        "transfer_method": "local_file",
        "filename": file.name,
        "extension": extension,
        "mime_type": mimetypes.guess_type(file.name)[0] or "application/octet-stream",
        "size": file.stat().st_size,
        "url": file.as_uri(),
        "related_id": None,
    }
