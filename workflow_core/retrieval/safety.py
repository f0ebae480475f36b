"""The retrieval safety filter: what a knowledge base may hand to a model.

Chunks that carry prompt-injection phrasing are dropped; credential-looking strings in the rest
are replaced by ``[REDACTED]``. Extra block patterns come from the KB config file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from workflow_core.retrieval.base import RetrievedChunk

INJECTION_PATTERNS = (
    r"ignore (?:all |any )?(?:the )?(?:previous|prior|above) (?:instructions|prompts?)",
    r"disregard (?:all |the )?(?:previous|prior|above)",
    r"you are now (?:in )?(?:developer|dan|jailbreak) mode",
    r"reveal (?:your|the) (?:system prompt|instructions)",
    r"忽略(?:之前|以上|上述)的?(?:所有)?(?:指令|提示)",
)
SECRET_PATTERNS = (
    r"\bsk-[A-Za-z0-9_-]{20,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    r"\bxox[abpr]-[A-Za-z0-9-]{10,}",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
)
REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class SafetyFilter:
    enabled: bool = True
    block_patterns: tuple[str, ...] = ()
    _block: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _secret: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = (*INJECTION_PATTERNS, *self.block_patterns)
        object.__setattr__(self, "_block", tuple(re.compile(p, re.IGNORECASE) for p in patterns))
        object.__setattr__(self, "_secret", re.compile("|".join(SECRET_PATTERNS)))

    def is_blocked(self, text: str) -> bool:
        return self.enabled and any(p.search(text) for p in self._block)

    def redact(self, text: str) -> str:
        return self._secret.sub(REDACTED, text) if self.enabled else text

    def apply(self, chunks: Iterable[RetrievedChunk]) -> list[RetrievedChunk]:
        return [
            replace(c, content=self.redact(c.content))
            for c in chunks
            if not self.is_blocked(c.content)
        ]
