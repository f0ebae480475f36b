"""Cleaning and chunking documents before they are embedded.

Cleaning: Unicode NFKC, control characters removed, runs of spaces/tabs collapsed, more than one
blank line collapsed. Chunking: paragraphs, then sentences, then hard cuts, packed greedily into
chunks of at most ``size`` characters; each chunk after the first starts with the last
``overlap`` characters of the previous one (moved forward to a word boundary).
"""

from __future__ import annotations

import re
import unicodedata

from workflow_core.retrieval.base import KnowledgeError

DEFAULT_CHUNK_SIZE = 400
DEFAULT_CHUNK_OVERLAP = 50

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])\s+|(?<=[。！？])")


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _units(text: str, size: int) -> list[str]:
    """Pieces no longer than ``size``: paragraphs, else sentences, else hard cuts."""
    units: list[str] = []
    for paragraph in text.split("\n\n"):
        if len(paragraph) <= size:
            units.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            while len(sentence) > size:
                units.append(sentence[:size])
                sentence = sentence[size:]
            if sentence:
                units.append(sentence)
    return [u for u in units if u.strip()]


def _tail(chunk: str, overlap: int) -> str:
    if overlap <= 0:
        return ""
    tail = chunk[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 and len(chunk) > overlap else tail


def split_text(
    text: str, size: int = DEFAULT_CHUNK_SIZE, overlap: int = DEFAULT_CHUNK_OVERLAP
) -> list[str]:
    """Chunks of at most ``size`` characters with about ``overlap`` characters shared."""
    if size <= 0:
        raise KnowledgeError(f"chunk size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise KnowledgeError(
            f"chunk overlap must be between 0 and size-1 ({size - 1}), got {overlap}"
        )
    chunks: list[str] = []
    current = ""
    for unit in _units(clean_text(text), size):
        candidate = f"{current}\n{unit}" if current else unit
        if len(candidate) <= size:
            current = candidate
            continue
        if current:
            chunks.append(current)
        prefix = _tail(current, overlap)
        current = f"{prefix} {unit}" if prefix and len(prefix) + 1 + len(unit) <= size else unit
    if current:
        chunks.append(current)
    return chunks
