"""Highlighted diffs for the runs diff and prompt versions: word diff for text, key diff for JSON.

Rendering is HTML with every value escaped; the colours match the dashboard theme.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from dataclasses import dataclass
from typing import Any

DEL = '<span style="background:#ffdcdc;color:#8a1c1c;text-decoration:line-through">{}</span>'
INS = '<span style="background:#d6f5dd;color:#135c27">{}</span>'
BOX = (
    '<div style="font-family:ui-monospace,monospace;font-size:0.85rem;white-space:pre-wrap;'
    "word-break:break-word;border:1px solid #e0e0e6;border-radius:6px;padding:8px;"
    'background:#fcfcfd">{}</div>'
)
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Change:
    """One key of a JSON diff: ``kind`` is added, removed, changed or same."""

    path: str
    kind: str
    old: Any = None
    new: Any = None


def parse(raw: Any) -> Any:
    """A span attribute as JSON when it is JSON text, else as it is."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def word_diff(old: str, new: str) -> tuple[str, str]:
    """Word-level diff as HTML fragments: (old with deletions marked, new with insertions)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_part, new_part = html.escape("".join(a[i1:i2])), html.escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(DEL.format(old_part))
        if new_part:
            right.append(INS.format(new_part))
    return "".join(left), "".join(right)


def text_diff_html(old: str, new: str) -> tuple[str, str]:
    """Word-level diff of two texts, each side in its box."""
    left, right = word_diff(old, new)
    return BOX.format(left), BOX.format(right)


def json_diff(old: Any, new: Any, path: str = "") -> list[Change]:
    """Key-by-key differences of two JSON values (nested objects recurse)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append(Change(sub, "removed", old=old[key]))
            elif key not in old:
                changes.append(Change(sub, "added", new=new[key]))
            else:
                changes.extend(json_diff(old[key], new[key], sub))
        return changes
    return [Change(path or "(value)", "same" if old == new else "changed", old, new)]


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def json_diff_html(changes: list[Change]) -> tuple[str, str]:
    """Two aligned key lists: removed/old values struck on the left, added/new on the right."""
    left: list[str] = []
    right: list[str] = []
    for c in changes:
        key = f"<b>{html.escape(c.path)}</b>: "
        if c.kind == "same":
            value = html.escape(_show(c.old))
            left.append(key + value)
            right.append(key + value)
        elif c.kind == "removed":
            left.append(DEL.format(key + html.escape(_show(c.old))))
            right.append("")
        elif c.kind == "added":
            left.append("")
            right.append(INS.format(key + html.escape(_show(c.new))))
        else:
            old_html, new_html = word_diff(_show(c.old), _show(c.new))
            left.append(key + old_html)
            right.append(key + new_html)
    return BOX.format("\n".join(left)), BOX.format("\n".join(right))


def diff_html(old_raw: Any, new_raw: Any) -> tuple[str, str]:
    """Pick the diff: key diff when both sides are JSON objects, word diff otherwise."""
    old, new = parse(old_raw), parse(new_raw)
    if isinstance(old, dict) and isinstance(new, dict):
        return json_diff_html(json_diff(old, new))
    return text_diff_html(
        _show(old) if old is not None else "", _show(new) if new is not None else ""
    )
