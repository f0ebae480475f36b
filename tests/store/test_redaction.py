"""The store redacts exactly as the probe does (same samples, identical output), in linear time.

``workflow_core`` cannot import ``probe``; this test is what keeps the two rule sets equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.redaction import Redactor as ProbeRedactor
from workflow_core.store.errors import StoreConfigError
from workflow_core.store.redaction import REDACTED, Redactor, is_sensitive_key, parse_patterns

CARD_DSL = Path(__file__).resolve().parents[3] / "shared/dify-dsl/Text_to_Card_Iteration.yml"
CARD_API_KEY = "282856915996906898.lqe1hPL1OpFHfNAoMc1PdOToeximcTrw"

SAMPLES: list[Any] = [
    {"headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz", "Accept": "json"}},
    {"X-API-Key": "k-123456", "x-api-key": "", "api_key": None, "openai_api_key": "sk-x"},
    {"access_token": "tok-abcdef", "refresh_token": 12345678, "max_tokens": 512},
    {"password": "hunter22", "user": {"passwd": "p", "name": "bob", "client_secret": "cs"}},
    "Authorization: Bearer abc.def.ghi-jkl and then more words",
    "curl -H 'X-API-Key: 282856915996906898.lqe1' https://x?token=abcdef&page=2",
    'payload {"api_key": "sk-AAAAAAAAAAAAAAAAAAAAAAAA", "note": "keep me"}',
    "password=hunter2;user=bob, secret: s3cr3t}",
    "my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUV and AKIAABCDEFGHIJKLMNOP",
    "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 xoxb-1234567890-abcdef",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM",
    "Basic dXNlcjpwYXNzd29yZA== and basic short",
    "\"session_key\" : 'abc def'",
    '{\\"api_key\\": \\"abc123\\", \\"note\\": \\"ok\\"}',
    "prefix-x_api_key=v1 notakey=v2 Token: \\'q\\'",
    "token bearer xyz; mytoken:=v; API-KEY= 'q' ; auth: none",
    ["list", {"nested": [{"private_key": "-----BEGIN"}]}, ("tuple", b"bytes")],
    {"deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": 1}}}}}}}}}}}},
    {1: "int key", "n": 1.5, "ok": True, "none": None},
]


def _corpus_dsl() -> Any:
    return yaml.safe_load(CARD_DSL.read_text(encoding="utf-8"))


@pytest.mark.parametrize("sample", [*SAMPLES, "corpus"], ids=lambda s: str(s)[:40])
def test_store_and_probe_redact_identically(sample: Any) -> None:
    value = _corpus_dsl() if sample == "corpus" else sample
    # A large cap: the probe cuts strings at its capture size, the store caps whole documents.
    ours, theirs = Redactor(), ProbeRedactor(max_bytes=1_000_000)
    assert ours.redact(value) == theirs.redact(value)
    # Secrets seen under a key are then scrubbed from later strings by both.
    for later in (
        f"header was {CARD_API_KEY} and hunter22",
        f"token={CARD_API_KEY}; again {CARD_API_KEY}-suffix hunter22:x",
        "cs k-123456 sk-x tok-abcdef sk-AAAAAAAAAAAAAAAAAAAAAAAA",
    ):
        assert ours.redact(later) == theirs.redact(later)


def test_the_corpus_api_key_is_redacted() -> None:
    redacted = Redactor().redact(_corpus_dsl())
    assert CARD_API_KEY not in str(redacted)
    http = next(
        n for n in redacted["workflow"]["graph"]["nodes"] if n["data"].get("type") == "http-request"
    )
    assert http["data"]["authorization"] == {
        "config": {"api_key": REDACTED, "header": "X-API-Key", "type": "custom"},
        "type": "api-key",
    }


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("abkeyKEYtonpaswrd_-:= \"',;&}\\\u00e9Bbearer"))
        | st.characters(),
        max_size=60,
    )
)
def test_store_and_probe_scrub_arbitrary_strings_identically(text: str) -> None:
    assert Redactor().scrub(text) == ProbeRedactor(max_bytes=1_000_000).scrub(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "api_key",
                "token",
                "Password",
                "x_KEY",
                "secret",
                "name",
                "=",
                ":",
                " ",
                '"',
                "'",
                "bearer ",
                "abc",
                "é",
                "-",
                "_",
                ",",
                "value123",
                "authorization",
                "\\",
                '\\"',
            ]
        ),
        max_size=25,
    ).map("".join)
)
def test_secret_name_value_pairs_match_the_probe(text: str) -> None:
    assert Redactor().scrub(text) == ProbeRedactor(max_bytes=1_000_000).scrub(text)


def test_user_patterns_apply_and_are_validated() -> None:
    patterns = parse_patterns(r'["ACME-[0-9]{4,}", "x{2,3}y"]')
    assert patterns == ("ACME-[0-9]{4,}", "x{2,3}y")
    assert Redactor(patterns).scrub("id ACME-12345 xxy") == f"id {REDACTED} {REDACTED}"
    assert parse_patterns("foo, bar") == ("foo", "bar")
    with pytest.raises(
        StoreConfigError, match="FLOWSCOPE_REDACT_PATTERNS: '\\(' is not a valid regex"
    ):
        parse_patterns("(")
    with pytest.raises(StoreConfigError, match="JSON array"):
        parse_patterns("[1, 2]")


def test_sensitive_key_names() -> None:
    assert all(
        map(is_sensitive_key, ["Authorization", "X-API-Key", "refresh_token", "db.password"])
    )
    assert not any(map(is_sensitive_key, ["max_tokens", "keyword", "monkey", "tokens"]))


@pytest.mark.timeout(120)
def test_long_words_do_not_make_the_scan_blow_up() -> None:
    # A backtracking blow-up (quadratic or worse in the word length) would never finish on
    # these; a linear scan takes milliseconds. The timeout turns a hang into a failure.
    for word in ("é" * 2_000_000, "a_key" * 400_000, "-" * 2_000_000):
        assert Redactor().scrub(f"{word} token=abc").endswith(f"token={REDACTED}")


def test_one_redactor_fed_every_sample_in_turn_matches_the_probe() -> None:
    """Secrets remembered from earlier values are scrubbed the same way from later ones."""
    ours, theirs = Redactor(), ProbeRedactor(max_bytes=1_000_000)
    for value in [
        _corpus_dsl(),
        *SAMPLES,
        *SAMPLES[::-1],
        f"dump: {CARD_API_KEY} hunter22 tok-abcdef",
    ]:
        assert ours.redact(value) == theirs.redact(value)
