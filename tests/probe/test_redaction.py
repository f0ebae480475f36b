"""Redaction and truncation of captured payloads."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from probe.redaction import REDACTED, Redactor, is_sensitive_key

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"  # ../shared
TEXT_TO_CARD_KEY = "282856915996906898.lqe1hPL1OpFHfNAoMc1PdOToeximcTrw"


def _http_node_data() -> dict[str, object]:
    raw = yaml.safe_load((CORPUS / "Text_to_Card_Iteration.yml").read_text(encoding="utf-8"))
    for node in raw["workflow"]["graph"]["nodes"]:
        if node["data"].get("type") == "http-request":
            data: dict[str, object] = node["data"]
            return data
    raise AssertionError("Text_to_Card_Iteration.yml has no http-request node")


def test_text_to_card_api_key_never_captured() -> None:
    redactor = Redactor()
    data = _http_node_data()
    assert TEXT_TO_CARD_KEY in json.dumps(data)  # the corpus really holds the key
    captured = redactor.capture(data)
    assert TEXT_TO_CARD_KEY not in captured
    assert REDACTED in captured
    assert "X-API-Key" in captured  # the header name stays readable


def test_remembered_secret_scrubbed_from_rendered_request_text() -> None:
    redactor = Redactor()
    redactor.capture(_http_node_data())
    dump = f"POST /open/v1/pics HTTP/1.1\r\nX-Custom: {TEXT_TO_CARD_KEY}\r\n\r\n{{}}"
    assert TEXT_TO_CARD_KEY not in redactor.capture({"request": dump})


def test_header_lines_and_bearer_tokens_scrubbed() -> None:
    redactor = Redactor()
    text = "Authorization: Bearer abcdefghijkl123\nX-API-Key: s3cr3tvalue\nAccept: */*"
    out = redactor.scrub(text)
    assert "abcdefghijkl123" not in out
    assert "s3cr3tvalue" not in out
    assert "Accept: */*" in out


def test_sensitive_key_names() -> None:
    for key in ("api_key", "Authorization", "X-API-Key", "access_token", "password", "db-key"):
        assert is_sensitive_key(key), key
    for key in ("title", "max_tokens", "keyword", "text"):
        assert not is_sensitive_key(key), key


def test_nested_values_under_sensitive_keys_replaced() -> None:
    captured = json.loads(
        Redactor().capture({"a": [{"refresh_token": "t0k3n-value"}], "password": "hunter22"})
    )
    assert captured == {"a": [{"refresh_token": REDACTED}], "password": REDACTED}


def test_custom_patterns_apply() -> None:
    redactor = Redactor(patterns=[r"ACME-\d{6}"])
    assert "ACME-123456" not in redactor.capture({"note": "customer ACME-123456 called"})


def test_openai_style_key_in_free_text_scrubbed() -> None:
    out = Redactor().scrub("use sk-abcdefghijklmnopqrstuvwx please")
    assert "sk-abcdefghijklmnopqrstuvwx" not in out


def test_truncation_bounds_size_and_marks_it() -> None:
    redactor = Redactor(max_bytes=100)
    captured = redactor.capture({"text": "é" * 500})
    head = captured.split("…[truncated")[0]
    assert len(head.encode("utf-8")) <= 100
    assert "truncated" in captured


def test_secret_straddling_the_cut_is_not_half_exposed() -> None:
    redactor = Redactor(max_bytes=64)
    text = "x" * 50 + " Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789"
    captured = redactor.capture({"t": text})
    assert "abcdefgh" not in captured


def test_secret_inside_json_document_captured_as_a_string_is_scrubbed() -> None:
    body = json.dumps({"headers": {"X-API-Key": "s3cr3t-value-123", "Accept": "*/*"}})
    captured = Redactor().capture({"body": body})
    assert "s3cr3t-value-123" not in captured
    assert "*/*" in captured


def test_numbers_under_sensitive_keys_are_redacted_too() -> None:
    assert json.loads(Redactor().capture({"pin_password": 123456, "count": 3})) == {
        "pin_password": REDACTED,
        "count": 3,
    }


def test_fast_path_triggers_cover_every_sensitive_key_name() -> None:
    from probe.redaction import _ALL_TRIGGERS, _SENSITIVE_NAMES, _SENSITIVE_SUFFIXES

    for name in (*_SENSITIVE_NAMES, *_SENSITIVE_SUFFIXES):
        assert any(trigger in name for trigger in _ALL_TRIGGERS), name


def test_fast_path_still_applies_custom_patterns_and_remembered_secrets() -> None:
    redactor = Redactor(patterns=[r"ACME-\d{6}"])
    redactor.capture({"api_key": "remember-me-123"})
    captured = redactor.capture({"note": "ACME-123456 and remember-me-123"})
    assert "ACME-123456" not in captured
    assert "remember-me-123" not in captured


def test_circular_payload_is_captured_without_error() -> None:
    loop: dict[str, object] = {"name": "x"}
    loop["self"] = loop
    captured = Redactor().capture(loop)
    assert captured.startswith('{"name":"x","self":{"name":"x"')


PAIR_PAYLOADS = [
    {},
    {"output": []},
    {"text": "plain prose about translation", "n": 3},
    {"api_key": "sk-abcdefghijklmnopqrstuvwx", "q": "hi"},
    {"headers": "Authorization: Bearer abcdefghijklmnop"},
    {"long": "x" * 5000},
    {"unicode": "日本語" * 600},
]


def test_capture_pair_equals_two_captures_for_every_kind_of_payload() -> None:
    plain, custom = Redactor(max_bytes=4096), Redactor(["internal-[0-9]+"], max_bytes=4096)
    remembering = Redactor(max_bytes=4096)
    remembering.capture({"password": "hunter2-secret"})  # remembered from now on
    payloads = [*PAIR_PAYLOADS, {"note": "internal-42 and hunter2-secret"}]
    for redactor in (plain, custom, remembering):
        for first in payloads:
            for second in payloads:
                expected = (redactor.capture(first), redactor.capture(second))
                assert redactor.capture_pair(first, second) == expected
    assert "internal-42" not in custom.capture_pair({}, payloads[-1])[1]
    assert "hunter2-secret" not in remembering.capture_pair(payloads[-1], {})[0]


def test_trigger_scan_finds_exactly_what_one_in_test_per_word_finds() -> None:
    from probe.redaction import _ALL_TRIGGERS, _trigger_matches

    texts = [
        "",
        '{"iterator_length":0}',
        '{"output":[]}',
        "plain prose about translation " * 40,  # long: no word anywhere
        "plain prose " * 100 + "and a token at the end",  # the word past 1 KB
        "x-api-key",
        "basically",
        "ghp_ and gho_",
        "日本語のテキスト" * 50 + "secret",
        *(f"..{word}.." for word in _ALL_TRIGGERS),
    ]
    for text in texts:
        lowered = text.lower()
        found = next(_trigger_matches(lowered), None) is not None
        assert found == any(w in lowered for w in _ALL_TRIGGERS), text


def test_a_key_written_with_the_kelvin_sign_is_still_redacted() -> None:
    # "\u212a" (KELVIN SIGN) lowers to an ASCII "k": the scan runs on lowered text.
    captured = Redactor().capture({"api_\u212aey": "sk-abcdefghijklmnopqrstuvwx"})
    assert "sk-abcdefghijklmnopqrstuvwx" not in captured


def test_values_orjson_refuses_fall_back_to_the_standard_encoder() -> None:
    huge = {"n": 2**80, "text": "hello"}  # past 64 bits
    deep: list[object] = []
    node = deep
    for _ in range(300):  # nesting past orjson's limit of 254
        node.append([])
        node = node[0]  # type: ignore[assignment]
    redactor = Redactor(max_bytes=1 << 20)
    assert redactor.capture(huge) == json.dumps(huge, separators=(",", ":"))
    assert redactor.capture_pair(huge, {"ok": 1}) == (redactor.capture(huge), '{"ok":1}')
    assert redactor.capture(deep) == json.dumps(deep, separators=(",", ":"))


def test_secret_inside_a_dataclass_payload_is_redacted() -> None:
    import dataclasses

    @dataclasses.dataclass
    class Credentials:
        user: str
        api_key: str

    captured = Redactor().capture({"auth": Credentials("ann", "sk-abcdefghijklmnopqrstuvwx")})
    assert "sk-abcdefghijklmnopqrstuvwx" not in captured
    assert "ann" in captured
