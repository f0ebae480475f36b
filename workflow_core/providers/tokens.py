"""A small tokenizer estimate: close to BPE counts for English, one token per CJK character."""

from __future__ import annotations

import math
import re

_PIECES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[A-Za-z]+|\d+|\S")


def count_tokens(text: str) -> int:
    total = 0
    for piece in _PIECES.findall(text):
        if piece.isascii() and piece.isalpha():
            total += max(1, math.ceil(len(piece) / 4))
        elif piece.isdigit():
            total += max(1, math.ceil(len(piece) / 3))
        else:
            total += 1
    return total


def count_message_tokens(contents: list[str]) -> int:
    """Chat-format overhead as OpenAI counts it: ~4 tokens per message plus 3 for the reply."""
    return sum(count_tokens(c) + 4 for c in contents) + 3
