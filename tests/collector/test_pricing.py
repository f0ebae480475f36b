"""Cost at ingest: provided cost wins, price file (exact/glob/regex), genai-prices, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import PriceFileError
from collector.otlp.rows import span_cost
from collector.pricing import Pricer, Usage, build_pricer, load_price_file

PRICES = """
models:
  - match: my-llama-70b
    input_per_mtok: 1
    output_per_mtok: 2
    cache_read_per_mtok: 0.5
  - match: "mistral-*"
    kind: glob
    provider: mistral
    input_per_mtok: 10
    output_per_mtok: 20
  - match: "^ft:gpt-4o-mini:.*$"
    kind: regex
    input_per_mtok: 3
    output_per_mtok: 12
  - match: gpt-4o-mini
    input_per_mtok: 100
    output_per_mtok: 100
"""


@pytest.fixture
def pricer(tmp_path: Path) -> Pricer:
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES)
    return build_pricer(path)


def test_exact_entry_prices_cached_tokens_at_the_cache_rate(pricer: Pricer) -> None:
    cost, source = pricer.price(Usage("self-hosted", "my-llama-70b", 1_000_000, 1_000_000, 400_000))
    assert source == "price-file"
    assert cost == pytest.approx(0.6 * 1 + 0.4 * 0.5 + 2)


def test_glob_entry_applies_only_to_its_provider(pricer: Pricer) -> None:
    assert pricer.price(Usage("mistral", "mistral-large", 1_000_000, 0)) == (10.0, "price-file")
    cost, source = pricer.price(Usage("other", "mistral-large-zzz", 1_000_000, 0))
    assert source == "unknown" and cost == 0.0


def test_regex_entry_matches_whole_names(pricer: Pricer) -> None:
    assert pricer.price(Usage("openai", "ft:gpt-4o-mini:acme:1", 0, 1_000_000)) == (
        12.0,
        "price-file",
    )


def test_file_overrides_genai_prices_for_a_known_model(pricer: Pricer) -> None:
    assert pricer.price(Usage("openai", "gpt-4o-mini", 1_000_000, 0)) == (100.0, "price-file")


def test_genai_prices_when_no_file_matches() -> None:
    cost, source = Pricer().price(Usage("openai", "gpt-4o-mini", 1000, 500, 100))
    assert source == "genai-prices"
    assert cost == pytest.approx((900 * 0.15 + 100 * 0.075 + 500 * 0.6) / 1e6)


def test_unknown_provider_falls_back_to_the_model_name() -> None:
    cost, source = Pricer().price(Usage("simulated", "gpt-4o-mini", 1_000_000, 0))
    assert source == "genai-prices" and cost == pytest.approx(0.15)


def test_provided_cost_attribute_wins(pricer: Pricer) -> None:
    attrs = {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": "1000",
        "flowscope.cost.usd": "0.125",
    }
    assert span_cost(attrs, pricer) == (0.125, "provided")
    del attrs["flowscope.cost.usd"]
    assert span_cost(attrs, pricer) == (pytest.approx(0.1), "price-file")
    assert span_cost({"http.method": "GET"}, pricer) == (0.0, "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "models: [{match: x, input_per_mtok: -1, output_per_mtok: 1}]",
            "models.0.input_per_mtok: Input should be greater than or equal to 0",
        ),
        (
            "models: [{match: '(', kind: regex, input_per_mtok: 1, output_per_mtok: 1}]",
            "is not a valid regex",
        ),
        ("models: [{match: x, input_per_mtok: 1}]", "models.0.output_per_mtok: Field required"),
        ("modles: []", "modles: Extra inputs are not permitted"),
        ("models: [unclosed", "not valid YAML"),
    ],
)
def test_bad_price_file_names_file_entry_and_rule(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(PriceFileError) as info:
        load_price_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
