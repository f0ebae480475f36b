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
from typing import Any

from workflow_core.store.redaction import Redactor

TRUNCATED_KEY = "__flowscope_truncated__"


class PayloadPolicy:
    """Redacts then size-caps every document the store writes."""

    def __init__(self, redactor: Redactor, max_bytes: int) -> None:
        self.redactor = redactor
        self.max_bytes = max_bytes

    def document(self, value: Any) -> Any:
        """``value`` redacted, as JSON-ready data, or a truncation marker when too large."""
        if value is None:
            return None
        clean = _finite(self.redactor.redact(value))
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
        clean = self.redactor.scrub(value)
        data = clean.encode("utf-8")
        if len(data) <= self.max_bytes:
            return clean
        head = data[: self.max_bytes].decode("utf-8", errors="ignore")
        return f"{head}…[truncated, {len(data)} bytes]"


def is_truncated(document: Any) -> bool:
    """Whether a stored document is a truncation marker."""
    return isinstance(document, dict) and document.get(TRUNCATED_KEY) is True


def _finite(value: Any) -> Any:
    """JSON has no NaN / Infinity (PostgreSQL rejects them): store those floats as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
