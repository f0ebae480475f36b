"""Secret redaction before anything reaches the run store — the probe's rules, re-stated here.

``workflow_core`` may not import ``probe`` (the core must not know its observer), so the rules
the probe applies to span payloads (``probe/redaction.py``) are restated in this module, and
``tests/store/test_redaction.py`` runs both on the same samples and requires identical output:

- a value under a sensitive key is replaced by ``[REDACTED]``: ``authorization``, ``password``,
  ``token``, ``api_key``, ``cookie`` … and any key ending in ``_token``, ``_key``, ``_secret``,
  ``_password``, ``_apikey``, ``_credentials`` (case-insensitive; ``-``, ``.``, spaces count as
  ``_``, so the header ``X-API-Key`` is sensitive); a mapping under such a key is a credential
  block: all its fields are redacted except descriptive ones (``type``, ``header`` …);
  ``None``, ``""`` and booleans are kept;
- such a value is remembered and scrubbed from every later string (a rendered header, a dump);
- strings are scrubbed with patterns: ``name: value`` / ``name=value`` pairs of secret-looking
  names, ``Bearer``/``Basic`` credentials, OpenAI ``sk-``, AWS ``AKIA``, GitHub ``gh?_``, Slack
  ``xox?-`` keys, JWTs, plus the user's ``FLOWSCOPE_REDACT_PATTERNS``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workflow_core.store.errors import StoreConfigError

REDACTED = "[REDACTED]"
ENV_REDACT_PATTERNS = "FLOWSCOPE_REDACT_PATTERNS"
MAX_DEPTH = 12

SENSITIVE_NAMES = frozenset(
    (
        "authorization",
        "proxy_authorization",
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "x_api_key",
        "cookie",
        "set_cookie",
        "credentials",
        "private_key",
        "client_secret",
    )
)
SENSITIVE_SUFFIXES = ("_token", "_key", "_secret", "_password", "_apikey", "_credentials")
_SEPARATORS = re.compile(r"[\s\-.]+")

# Fields of a credential block (Dify's ``authorization: {type, config: {api_key, header}}``)
# that describe the credential rather than hold it; every other field of the block is secret.
DESCRIPTIVE_NAMES = frozenset({"type", "header", "scheme", "kind", "name", "in", "auth_type"})

_SECRET_WORDS = r"(?:api[_-]?key|apikey|authorization|password|passwd|secret|token|_key)"
# (trigger substrings of the lowered text, pattern): a pattern only runs when one of its
# triggers occurs (cheap, and a pattern cannot match without one). Case-insensitive.
BUILTIN_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("key", "authorization", "password", "passwd", "secret", "token"),
        # "Authorization: Bearer abc" / "X-API-Key: abc" / "password=abc" / '"api_key": "a"';
        # quotes may be JSON-escaped (a JSON document inside a string field). The look-behind
        # starts a name only at the start of a word, which keeps the scan linear.
        r"(?P<keep>(?<![\w-])(?:\\?[\"'])?[\w-]*"
        + _SECRET_WORDS
        + r"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)"
        r"(?:(?:bearer|basic|token)\s+)?[^\s\"',;&}\\]+",
    ),
    (("bearer", "basic"), r"(?P<keep>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"),
    (("sk-",), r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style keys
    (("akia",), r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub
    (("xox",), r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    (("eyj",), r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWTs
)
_RULES = tuple((triggers, re.compile(p, re.IGNORECASE)) for triggers, p in BUILTIN_RULES)


def scrub_builtin(text: str) -> str:
    """``text`` with the built-in string rules applied, in order."""
    lowered = text.lower()
    for triggers, pattern in _RULES:
        if any(trigger in lowered for trigger in triggers):
            text = pattern.sub(_keep_prefix, text)
    return text


_REMEMBER_MIN_LEN = 6
_REMEMBER_MAX = 512


def is_sensitive_key(key: str) -> bool:
    """Whether the value under this mapping key or header name is a credential."""
    name = _SEPARATORS.sub("_", key.strip().lower())
    return name in SENSITIVE_NAMES or name.endswith(SENSITIVE_SUFFIXES)


def parse_patterns(raw: str, *, source: str = ENV_REDACT_PATTERNS) -> tuple[str, ...]:
    """``FLOWSCOPE_REDACT_PATTERNS``: a JSON array of regexes, or a comma-separated list."""
    text = raw.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreConfigError(
                f"{source}: expected a JSON array of regular expressions, got {raw!r}: {exc}"
            ) from exc
        if not isinstance(loaded, list) or not all(isinstance(p, str) for p in loaded):
            raise StoreConfigError(
                f"{source}: expected a JSON array of regular expressions, got {raw!r}"
            )
        patterns = tuple(loaded)
    else:
        patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise StoreConfigError(f"{source}: {pattern!r} is not a valid regex: {exc}") from exc
    return patterns


class Redactor:
    """Replaces credentials in JSON-like values; remembers secrets it has seen under keys.

    One instance per store: a secret seen once (say an ``api_key`` in a node's inputs) is then
    scrubbed from every later string, like the probe does within its process.
    """

    def __init__(self, patterns: Sequence[str] = ()) -> None:
        self._patterns = tuple(re.compile(p) for p in patterns)
        self._seen: dict[str, None] = {}
        self._lock = threading.Lock()

    def redact(self, value: Any, depth: int = 0) -> Any:
        """A JSON-ready copy of ``value`` with every credential replaced by ``[REDACTED]``."""
        if isinstance(value, str):
            return self.scrub(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if depth >= MAX_DEPTH:
            return "…"
        if isinstance(value, Mapping):
            return self._mapping(value.items(), depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            pairs = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
            return self._mapping(pairs, depth)
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return self.redact(dump(), depth + 1)
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(item, depth + 1) for item in value]
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        return self.scrub(str(value))

    def _mapping(
        self, pairs: Iterable[tuple[Any, Any]], depth: int, strict: bool = False
    ) -> dict[str, Any]:
        """Redact by key; inside a credential block (``strict``) every non-descriptive field."""
        result: dict[str, Any] = {}
        for key, item in pairs:
            name = str(key)
            if isinstance(item, Mapping) and (strict or is_sensitive_key(name)):
                result[name] = self._mapping(item.items(), depth + 1, strict=True)
            elif item is None or item == "" or isinstance(item, bool):
                result[name] = item
            elif is_sensitive_key(name) or (strict and name.lower() not in DESCRIPTIVE_NAMES):
                self._remember(item)
                result[name] = REDACTED
            else:
                result[name] = self.redact(item, depth + 1)
        return result

    def _remember(self, secret: Any) -> None:
        if isinstance(secret, Mapping):
            for item in secret.values():
                self._remember(item)
        elif isinstance(secret, str) and len(secret) >= _REMEMBER_MIN_LEN:
            with self._lock:
                self._seen[secret] = None
                while len(self._seen) > _REMEMBER_MAX:
                    del self._seen[next(iter(self._seen))]

    def scrub(self, text: str) -> str:
        """``text`` with the built-in rules, then remembered secrets, then user patterns applied
        (the probe's order)."""
        text = scrub_builtin(text)
        for secret in tuple(self._seen):
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in self._patterns:
            text = pattern.sub(_keep_prefix, text)
        return text


def _keep_prefix(match: re.Match[str]) -> str:
    return f"{match.groupdict().get('keep') or ''}{REDACTED}"
