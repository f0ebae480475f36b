"""What a document (inputs, outputs, chat state) looks like once stored: redacted and capped.

A document whose JSON exceeds the cap is replaced by a marker object that says so and keeps the
head of the JSON text, so a reader always knows it is looking at a truncation::

    {"__flowscope_truncated__": true, "original_bytes": 812345, "kept_bytes": 65536,
     "sha256": "…", "preview": "{\\"text\\": \\"Lorem ipsum…"}
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from workflow_core.store.redaction import Redactor

TRUNCATED_KEY = "__flowscope_truncated__"
_SURROGATE = re.compile("[\ud800-\udfff]")


class PayloadPolicy:
    """Redacts then size-caps every document the store writes."""

    def __init__(self, redactor: Redactor, max_bytes: int) -> None:
        self.redactor = redactor
        self.max_bytes = max_bytes

    def document(self, value: Any) -> Any:
        """``value`` redacted, as JSON-ready data, or a truncation marker when too large."""
        if value is None:
            return None
        clean = storable(self.redactor.redact(value))
        text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
        data = text.encode("utf-8")
        if len(data) <= self.max_bytes:
            return clean
        return {
            TRUNCATED_KEY: True,
            "original_bytes": len(data),
            "kept_bytes": self.max_bytes,
            "sha256": hashlib.sha256(data).hexdigest(),
            "preview": data[: self.max_bytes].decode("utf-8", errors="ignore"),
        }

    def text(self, value: str | None) -> str | None:
        """A free-text field (an error message): redacted and capped with a visible marker."""
        if value is None:
            return None
        clean = storable_text(self.redactor.scrub(value))
        data = clean.encode("utf-8")
        if len(data) <= self.max_bytes:
            return clean
        head = data[: self.max_bytes].decode("utf-8", errors="ignore")
        return f"{head}…[truncated, {len(data)} bytes]"


def is_truncated(document: Any) -> bool:
    """Whether a stored document is a truncation marker."""
    return isinstance(document, dict) and document.get(TRUNCATED_KEY) is True


def storable_text(text: str) -> str:
    """``text`` as every database can hold it: NUL characters (refused by PostgreSQL) and lone
    surrogates (not encodable as UTF-8) become U+FFFD instead of losing the whole row."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


def storable(value: Any) -> Any:
    """JSON data every database accepts: :func:`storable_text` strings (keys too), and NaN /
    Infinity (not JSON; PostgreSQL refuses them) as strings."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
