"""Mapping a webhook delivery (JSON body, query, headers) to workflow inputs, with type checks.

Body paths are JSON pointers (RFC 6901, ``/customer/email``, ``/items/0``) or dotted paths
(``customer.email``, ``items.0``). Errors name the failing source path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from workflow_core.triggers.config import InputMapping
from workflow_core.triggers.errors import PayloadError

_MISSING = object()


def parse_body(raw: bytes) -> Any:
    """The JSON body (``None`` when empty); :class:`PayloadError` at ``body`` when malformed."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("body", f"is not valid JSON: {exc}") from None


def split_path(path: str) -> list[str]:
    """Tokens of a JSON pointer (``/a/b~1c``) or a dotted path (``a.b``)."""
    if path in ("", "/"):
        return []
    if path.startswith("/"):
        return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]
    return path.split(".")


def lookup(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or the ``_MISSING`` sentinel."""
    current = document
    for token in split_path(path):
        if isinstance(current, Mapping):
            current = current.get(token, _MISSING)
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def _coerce(where: str, value: Any, kind: str, from_text: bool) -> Any:
    """Check ``value`` against ``kind``; query / header values (text) are converted."""
    if from_text and isinstance(value, str):
        value = _from_text(where, value, kind)
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }[kind]
    if not ok:
        shown = json.dumps(value)[:60]
        raise PayloadError(where, f"expected {kind}, got {type(value).__name__} {shown}")
    return value


def _from_text(where: str, text: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise PayloadError(where, f"expected {kind}, got {text[:60]!r}") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise PayloadError(where, f"expected boolean (true/false), got {text[:60]!r}")
    return text


def map_inputs(
    mappings: Mapping[str, InputMapping],
    *,
    body: Any,
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> dict[str, Any]:
    """Workflow inputs from a delivery; :class:`PayloadError` names the first failing path."""
    inputs: dict[str, Any] = {}
    for name, spec in mappings.items():
        kind, _, path = spec.source.partition(":")
        value: Any
        if kind == "body":
            value = lookup(body, path)
        elif kind == "query":
            value = query.get(path, _MISSING)
        else:
            value = headers.get(path, _MISSING)
        if value is _MISSING or value is None:
            if spec.required:
                raise PayloadError(spec.source, f"required for input {name!r} but missing")
            if spec.default is not None:
                inputs[name] = spec.default
            continue
        inputs[name] = _coerce(spec.source, value, spec.type, from_text=kind != "body")
    return inputs
