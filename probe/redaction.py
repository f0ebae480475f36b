"""Redaction and truncation of captured payloads (node inputs/outputs, request details).

Secrets never leave the process: values under sensitive keys (API keys, ``Authorization``,
``*_token``, ``*_key``, ``password`` …) are replaced, strings are scrubbed with patterns (bearer
tokens, ``key: value`` header lines, well-known key formats, user patterns from
``FLOWSCOPE_REDACT_PATTERNS``), and a secret value seen under a sensitive key is remembered so
that the same value is scrubbed wherever else it shows up (a rendered header, a request dump).
Redaction happens before truncation, so a cut never exposes half a match.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

REDACTED = "[REDACTED]"
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))
# The C encoder behind it, built once (``JSONEncoder.encode`` builds one per call). No circular
# check (markers=None): a circular payload overflows the recursion limit and takes the
# structural path, which is depth-bounded.
_C_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, str, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def _stdlib_json(value: Any) -> str:
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)


def _orjson() -> tuple[Callable[[Any, Callable[[Any], Any], int], bytes] | None, int]:
    """orjson's encoder and options: compact UTF-8 JSON with ``default=str`` like the stdlib
    one, 4x faster on a one-key dict and 10x on 1 KB (called with positional arguments: a
    ``functools.partial`` with keywords doubles the cost of a small payload). It also writes
    dataclasses as objects and NaN as null; what it refuses (integers past 64 bits, nesting
    past 254) raises ``TypeError`` and the caller falls back to the stdlib encoder."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - every supported platform has a wheel
        return None, 0
    return orjson.dumps, orjson.OPT_NON_STR_KEYS


_ORJSON, _ORJSON_OPTIONS = _orjson()


def _to_json(value: Any) -> str:
    """Compact JSON text of ``value`` (``str()`` for what JSON has no type for)."""
    if _ORJSON is not None:
        try:
            return _ORJSON(value, str, _ORJSON_OPTIONS).decode()
        except TypeError:
            pass
    return _stdlib_json(value)


_MAX_DEPTH = 12
_REMEMBERED_MAX = 512
_MIN_REMEMBERED_LEN = 6

_SENSITIVE_NAMES = frozenset(
    {
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
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_key", "_secret", "_password", "_apikey", "_credentials")
# Fields of a credential block that describe it rather than hold it.
_DESCRIPTIVE = frozenset({"type", "header", "scheme", "kind", "name", "in", "auth_type"})
_NAME_SEPARATORS = re.compile(r"[\s\-.]+")

_SECRET_WORDS = r"(?:api[_-]?key|apikey|authorization|password|passwd|secret|token|_key)"
# (cheap trigger substrings of the lowered text, pattern): a pattern runs only when one of its
# triggers occurs, so a payload without any credential-looking word costs a few ``in`` tests.
_DEFAULT_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (triggers, re.compile(pattern, re.IGNORECASE))
    for triggers, pattern in (
        (
            ("key", "authorization", "password", "passwd", "secret", "token"),
            # "Authorization: Bearer abc" / "X-API-Key: abc" / "password=abc" / '"api_key": "a"'
            # (quotes may be JSON-escaped: a JSON document captured inside a string field)
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
)


# Every sensitive key name and every default pattern contains one of these (lowered) words.
_TRIGGER_WORDS = {"key", "auth", "pass", "pwd", "secret", "token", "cookie", "credential"} | {
    trigger for triggers, _ in _DEFAULT_RULES for trigger in triggers
}
# Minimal set: a word containing another one ("password" ⊃ "pass") adds nothing.
_ALL_TRIGGERS = tuple(
    sorted(w for w in _TRIGGER_WORDS if not any(o != w and o in w for o in _TRIGGER_WORDS))
)


def _trigger_scan() -> Callable[[str], Iterator[object]]:
    """``lowered -> iterator of matches`` of the trigger words: one Aho-Corasick pass
    (pyahocorasick; 0.24 µs on a 35-character payload, 4 µs on 1 KB, against 0.44 / 9 µs for one
    regular expression of all the words and 0.4 / 11 µs for one ``in`` test per word). It keeps
    the GIL: ahocorasick-rs, faster on long texts, releases it, and the hand-over to a waiting
    thread (a span exporter's) cost ~3 µs per short payload in the probe benchmark. Callers take
    ``next(…, None)``: only whether there is a first match matters."""
    try:
        from ahocorasick import Automaton
    except ImportError:  # pragma: no cover - every supported platform has a wheel
        return re.compile("|".join(map(re.escape, _ALL_TRIGGERS))).finditer
    automaton = Automaton()
    for word in _ALL_TRIGGERS:
        automaton.add_word(word, word)
    automaton.make_automaton()
    matches: Callable[[str], Iterator[object]] = automaton.iter
    return matches


_trigger_matches = _trigger_scan()


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(key: str) -> bool:
    """True for mapping keys / header names whose value is a credential."""
    name = _NAME_SEPARATORS.sub("_", key.strip().lower())
    return name in _SENSITIVE_NAMES or name.endswith(_SENSITIVE_SUFFIXES)


class Redactor:
    """Turns arbitrary payloads into redacted, size-bounded JSON text for span attributes."""

    def __init__(self, patterns: Iterable[str] = (), max_bytes: int = 4096) -> None:
        self.max_bytes = max_bytes
        self._custom = tuple(re.compile(p) for p in patterns)
        self._remembered: dict[str, None] = {}  # insertion-ordered set of secret values
        self._lock = threading.Lock()
        # Strings longer than this cannot show in full in the output anyway; scrubbing a
        # margin beyond it keeps patterns that straddle the cut whole.
        self._scan_limit = max_bytes + 256
        # A JSON text this short is at most max_bytes of UTF-8: it never needs a cut.
        self._pair_limit = max_bytes // 4

    def capture(self, value: Any) -> str:
        """Redacted JSON text of ``value``, truncated to ``max_bytes`` (plus a marker).

        Fast path: the JSON text (C encoder) holds no credential-looking word at all — no
        sensitive key, nothing a pattern could match — so only custom patterns and remembered
        secrets apply. Otherwise values under sensitive keys are replaced structurally, the
        JSON text is scrubbed in one pass (only the prefix that can reach the output), then cut.
        """
        try:
            text: str | None = _to_json(value)
        except (TypeError, ValueError, RecursionError):  # circular or odd: the structural path
            text = None
        if text is not None and next(_trigger_matches(text.lower()), None) is None:
            size = len(text)
            if size > self._scan_limit:
                text = text[: self._scan_limit]
            elif size * 4 <= self.max_bytes and not self._remembered and not self._custom:
                return text  # nothing to scrub, cannot need a cut (truncate's first test)
            text = self._scrub_custom(text)
            return self.truncate(text, size if size > self._scan_limit else None)
        text = _to_json(self._by_key(value, 0))
        size = len(text)
        return self.truncate(self.scrub(text), size if size > self._scan_limit else None)

    def capture_pair(self, first: Any, second: Any) -> tuple[str, str]:
        """:meth:`capture` of two payloads (a node's inputs and outputs) with one trigger scan.

        When neither JSON text holds a credential-looking word, nothing is left to do but the
        custom patterns and remembered secrets; otherwise each goes through :meth:`capture`.
        """
        if _ORJSON is not None and not self._remembered and not self._custom:
            try:
                one = _ORJSON(first, str, _ORJSON_OPTIONS).decode()
                two = _ORJSON(second, str, _ORJSON_OPTIONS).decode()
            except TypeError:
                return self.capture(first), self.capture(second)
            limit = self._pair_limit
            # (a word across the seam only costs a rescan)
            if (
                len(one) <= limit
                and len(two) <= limit
                and next(_trigger_matches(f"{one}\n{two}".lower()), None) is None
            ):
                return one, two
        return self.capture(first), self.capture(second)

    def _by_key(self, value: Any, depth: int) -> Any:
        """JSON-ready copy of ``value`` with key-based redaction only (strings untouched)."""
        kind = type(value)
        if kind is str or kind is int or kind is float or kind is bool or value is None:
            return value
        if depth >= _MAX_DEPTH:
            return "…"
        if kind is dict:
            return self._redact_mapping(value.items(), depth, scrub=False)
        if kind is list or kind is tuple:
            return [self._by_key(item, depth + 1) for item in value]
        if isinstance(value, str | int | float):
            return value
        if isinstance(value, Mapping):
            return self._redact_mapping(value.items(), depth, scrub=False)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
            return self._redact_mapping(fields, depth, scrub=False)
        if hasattr(value, "model_dump") and callable(value.model_dump):
            return self._by_key(value.model_dump(), depth + 1)
        if isinstance(value, list | tuple | set | frozenset):
            return [self._by_key(item, depth + 1) for item in value]
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        return str(value)

    def truncate(self, text: str, cut_from: int | None = None) -> str:
        """``text`` cut to ``max_bytes`` of UTF-8 (whole characters) plus a marker.

        ``cut_from``: the length in characters of the text before it was already shortened.
        """
        if cut_from is None and len(text) * 4 <= self.max_bytes:  # cannot exceed: no encoding
            return text
        data = text.encode("utf-8")
        if cut_from is None and len(data) <= self.max_bytes:
            return text
        head = data[: self.max_bytes].decode("utf-8", errors="ignore")
        total = cut_from if cut_from is not None else len(text)
        return f"{head}…[truncated, {total} characters]"

    def redact(self, value: Any, _depth: int = 0) -> Any:
        """A copy of ``value`` (JSON-like) with credentials replaced by ``[REDACTED]``."""
        if isinstance(value, str):
            return self.scrub(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if _depth >= _MAX_DEPTH:
            return "…"
        if isinstance(value, Mapping):
            return self._redact_mapping(value.items(), _depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
            return self._redact_mapping(fields, _depth)
        if hasattr(value, "model_dump") and callable(value.model_dump):
            return self.redact(value.model_dump(), _depth + 1)
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(item, _depth + 1) for item in value]
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        return self.scrub(str(value))

    def _redact_mapping(
        self,
        items: Iterable[tuple[Any, Any]],
        depth: int,
        strict: bool = False,
        scrub: bool = True,
    ) -> dict[str, Any]:
        """Redact by key name; in ``strict`` mode (inside a credential block such as Dify's
        ``authorization: {type, config: {api_key, header}}``) every value is a secret except
        descriptive fields (``type``, ``header`` …)."""
        out: dict[str, Any] = {}
        for key, item in items:
            name = key if type(key) is str else str(key)
            kind = type(item)
            if not strict and (kind is str or kind is int or kind is float or item is None):
                if item is None or item == "":
                    out[name] = item
                elif is_sensitive_key(name):
                    self.remember(item)
                    out[name] = REDACTED
                elif kind is str and scrub:
                    out[name] = self.scrub(item)
                else:  # capture() scrubs the whole JSON text afterwards
                    out[name] = item
                continue
            if isinstance(item, Mapping) and (strict or is_sensitive_key(name)):
                out[name] = self._redact_mapping(item.items(), depth + 1, True, scrub)
            elif item is None or item == "" or isinstance(item, bool):
                out[name] = item
            elif is_sensitive_key(name) or (strict and name.lower() not in _DESCRIPTIVE):
                self.remember(item)
                out[name] = REDACTED
            else:
                out[name] = self.redact(item, depth + 1) if scrub else self._by_key(item, depth + 1)
        return out

    def remember(self, secret: Any) -> None:
        """Scrub this value from every string captured from now on."""
        if isinstance(secret, Mapping):
            for item in secret.values():
                self.remember(item)
            return
        if not isinstance(secret, str) or len(secret) < _MIN_REMEMBERED_LEN:
            return
        with self._lock:
            self._remembered[secret] = None
            if len(self._remembered) > _REMEMBERED_MAX:
                del self._remembered[next(iter(self._remembered))]

    def scrub(self, text: str, *, whole: bool = False) -> str:
        """``text`` with every remembered secret and pattern match replaced.

        A text longer than a capture can show is cut first (``max_bytes`` plus a margin), unless
        ``whole`` (log records, which are exported in full).
        """
        if not whole and len(text) > self._scan_limit:
            text = text[: self._scan_limit]
        lowered = text.lower()
        for triggers, pattern in _DEFAULT_RULES:
            for trigger in triggers:
                if trigger in lowered:
                    text = pattern.sub(_replacement, text)
                    break
        return self._scrub_custom(text)

    def _scrub_custom(self, text: str) -> str:
        """Remembered secrets and ``FLOWSCOPE_REDACT_PATTERNS``."""
        if self._remembered:
            for secret in tuple(self._remembered):
                if secret in text:
                    text = text.replace(secret, REDACTED)
        for pattern in self._custom:
            text = pattern.sub(_replacement, text)
        return text


def _replacement(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep")
    return f"{keep}{REDACTED}" if keep else REDACTED
