"""The variable pool (SPEC §3.1) and ``{{#owner.name#}}`` template rendering (§3.5-§3.6)."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

logger = logging.getLogger(__name__)

Selector = tuple[str, ...]
Form = Literal["text", "markdown"]

#: ``{{#owner.name#}}`` (owner up to 50 word characters, 1-10 dotted parts).
TEMPLATE_REF = re.compile(r"\{\{#([a-zA-Z0-9_]{1,50}(?:\.[a-zA-Z_][a-zA-Z0-9_]{0,29}){1,10})#\}\}")

_MISSING = object()


def as_selector(value: Sequence[str]) -> Selector:
    return tuple(str(part) for part in value)


class VariablePool:
    """Values keyed by selector ``(owner, name)``; thread-safe, forkable for iteration rounds."""

    def __init__(self, values: Mapping[Selector, Any] | None = None) -> None:
        self._values: dict[Selector, Any] = dict(values or {})
        self._lock = threading.Lock()

    def set(self, selector: Sequence[str], value: Any) -> None:
        key = as_selector(selector)
        with self._lock:
            self._values[key] = value

    def set_outputs(self, owner: str, outputs: Mapping[str, Any]) -> None:
        with self._lock:
            for name, value in outputs.items():
                self._values[(owner, name)] = value

    def has(self, selector: Sequence[str]) -> bool:
        return self.lookup(selector) is not _MISSING

    def get(self, selector: Sequence[str], default: Any = None) -> Any:
        value = self.lookup(selector)
        return default if value is _MISSING else value

    def lookup(self, selector: Sequence[str]) -> Any:
        """Return the value or the module's ``_MISSING`` sentinel (see :meth:`has`)."""
        key = as_selector(selector)
        if len(key) < 2:
            return _MISSING
        with self._lock:
            value = self._values.get(key[:2], _MISSING)
        for part in key[2:]:  # file attributes / nested object keys
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                return _MISSING
        return value

    def owners(self) -> frozenset[str]:
        with self._lock:
            return frozenset(key[0] for key in self._values)

    def items(self, owner: str) -> Iterator[tuple[str, Any]]:
        with self._lock:
            snapshot = [(k[1], v) for k, v in self._values.items() if k[0] == owner]
        return iter(snapshot)

    def fork(self) -> VariablePool:
        """A copy for an iteration round: writes to it do not reach this pool."""
        with self._lock:
            return VariablePool(self._values)


def is_missing(value: Any) -> bool:
    return value is _MISSING


def to_text(value: Any, form: Form = "text") -> str:
    """The textual form of a value (SPEC §3.6)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, dict):
        if _is_file(value):
            return _file_markdown(value) if form == "markdown" else ""
        return json.dumps(value, ensure_ascii=False, indent=2 if form == "markdown" else None)
    if isinstance(value, list | tuple):
        items = list(value)
        if not items:
            return ""
        if all(isinstance(i, dict) and _is_file(i) for i in items):
            return "\n".join(_file_markdown(i) for i in items) if form == "markdown" else ""
        if form == "markdown":
            return "\n".join(f"- {to_text(i, 'text')}" for i in items)
        if all(isinstance(i, str) for i in items):
            return json.dumps(items, ensure_ascii=False)
        return str(items)
    return str(value)


def _is_file(value: Mapping[str, Any]) -> bool:
    return value.get("dify_model_identity") == "__dify__file__" or (
        "transfer_method" in value and "filename" in value
    )


def _file_markdown(value: Mapping[str, Any]) -> str:
    name = value.get("filename") or "file"
    url = value.get("remote_url") or value.get("url") or ""
    if value.get("type") == "image":
        return f"![{name}]({url})"
    return f"[{name}]({url})"


def template_selectors(template: str) -> list[Selector]:
    """Selectors referenced by ``{{#...#}}`` in ``template``."""
    return [tuple(m.group(1).split(".")) for m in TEMPLATE_REF.finditer(template)]


def render(
    template: str,
    pool: VariablePool,
    *,
    form: Form = "text",
    strict: bool = False,
    on_missing: list[Selector] | None = None,
) -> str:
    """Replace every ``{{#owner.name#}}`` by the textual form of its value.

    A reference to a variable that is not in the pool renders as an empty string (the clean
    alternative to Dify's dotted-path quirk, SPEC §3.5); it is appended to ``on_missing`` when
    given. With ``strict`` a missing reference raises :class:`KeyError` naming it instead.
    """

    def replace(match: re.Match[str]) -> str:
        selector = tuple(match.group(1).split("."))
        value = pool.lookup(selector)
        if value is _MISSING:
            if strict:
                raise KeyError(".".join(selector))
            if on_missing is not None:
                on_missing.append(selector)
            logger.debug("template reference %s not found; rendered empty", ".".join(selector))
            return ""
        return to_text(value, form)

    return TEMPLATE_REF.sub(replace, template)


def infer_type(value: Any) -> str:
    """Dify's type name for a produced value (SPEC §3.6)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "file" if _is_file(value) else "object"
    if isinstance(value, list):
        kinds = {infer_type(v) for v in value}
        if len(kinds) == 1:
            return f"array[{kinds.pop()}]"
        return "array[any]"
    return "any"
